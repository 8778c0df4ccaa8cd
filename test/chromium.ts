/**
 * Headless Chromium for tests, behind one small adapter: the system `chromium` (Debian package,
 * /usr/bin/chromium) driven by `playwright-core`, loaded lazily so that importing a test file
 * never pulls it in. `chromiumMissing()` says why a browser test must skip.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext } from 'playwright-core';

export const CHROMIUM_PATH = process.env.DALM_CHROMIUM ?? '/usr/bin/chromium';

/** Null when a browser test can run, else the reason it is skipped. */
export function chromiumMissing(): string | null {
  if (!existsSync(CHROMIUM_PATH))
    return `no Chromium at ${CHROMIUM_PATH}: apt-get install -y chromium (or set DALM_CHROMIUM)`;
  return null;
}

/**
 * Launches headless Chromium with a fresh profile (Playwright's persistent context: it passes the
 * --user-data-dir itself) and no background network; `close()` removes the profile.
 */
export async function launchChromium(): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(path.join(os.tmpdir(), 'dalm-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    viewport: { width: 1280, height: 900 },
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
