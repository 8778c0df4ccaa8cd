/** Errors of the Hub client, each one line that says what to do. */

/** Why a Hub request failed. */
export type HubErrorKind = 'auth' | 'not-found' | 'network' | 'offline' | 'integrity' | 'http';

export class HubError extends Error {
  constructor(
    readonly kind: HubErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'HubError';
  }
}

/** The error for an HTTP failure of `what` (e.g. "test-org/bert-tiny@main: config.json"). */
export function httpError(what: string, status: number, errorCode: string | null, tokenSet: boolean): HubError {
  if ((status === 401 || status === 403) && errorCode === 'RepositoryNotFound') {
    // The Hub answers 401 for a repo that does not exist as for a private one (it does not say which).
    const hint = tokenSet
      ? 'check the name; HF_TOKEN is set but gives no access to it'
      : 'check the name, or set HF_TOKEN if it is private or gated';
    return new HubError('auth', `${what}: repository not found or not accessible (HTTP ${status}); ${hint}`, status);
  }
  if (status === 401 || status === 403) {
    const hint = tokenSet
      ? 'HF_TOKEN is set but has no access: accept the model licence on its Hub page, or use a token with read access'
      : 'the repo is gated or private: set HF_TOKEN to an access token (https://huggingface.co/settings/tokens)';
    return new HubError('auth', `${what}: access denied (HTTP ${status}); ${hint}`, status);
  }
  if (status === 404) {
    const detail =
      errorCode === 'EntryNotFound'
        ? 'no such file in the repo'
        : errorCode === 'RevisionNotFound'
          ? 'no such revision (branch, tag or commit)'
          : `repository not found${tokenSet ? '' : ' (if it is private or gated, set HF_TOKEN)'}`;
    return new HubError('not-found', `${what}: ${detail} (HTTP 404)`, status);
  }
  return new HubError('http', `${what}: HTTP ${status}${errorCode ? ` (${errorCode})` : ''}`, status);
}

/** Whether `e` is a failure to reach the server at all (refused, DNS, reset, timeout) rather than an HTTP answer. */
export function isNetworkError(e: unknown): boolean {
  if (e instanceof HubError) return e.kind === 'network';
  const codes = [
    'ECONNREFUSED',
    'ENOTFOUND',
    'EAI_AGAIN',
    'ECONNRESET',
    'ETIMEDOUT',
    'EHOSTUNREACH',
    'ENETUNREACH',
    'UND_ERR_SOCKET',
    'UND_ERR_CONNECT_TIMEOUT',
  ];
  for (
    let err = e as { code?: string; cause?: unknown; message?: string } | undefined, i = 0;
    err && i < 5;
    err = err.cause as typeof err, i++
  ) {
    if (err.code && codes.includes(err.code)) return true;
    if (err instanceof TypeError && /fetch failed|terminated|other side closed/i.test(err.message ?? '')) return true;
  }
  return false;
}

/** A readable reason for a network error (the innermost cause). */
export function networkReason(e: unknown): string {
  let err = e as { code?: string; cause?: unknown; message?: string } | undefined;
  let reason = String((err as Error | undefined)?.message ?? e);
  for (let i = 0; err && i < 5; err = err.cause as typeof err, i++) reason = err.code ?? err.message ?? reason;
  return reason;
}
