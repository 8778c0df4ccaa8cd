/**
 * Typed option tables: each command option is declared once, as a field of a library config, and
 * commander parses straight into a `Partial<Config>` that the library validates (the library's
 * `validateXConfig` fills defaults and names bad values). No option is declared twice: the train
 * loop's options are one table used by `train retriever`, `train generator` and `train e2e`.
 */
import { type Command, Option } from 'commander';

export type OptionKind = 'int' | 'float' | 'string' | 'bool' | 'list' | 'floats' | { choices: readonly string[] };

export interface OptionSpec<C> {
  /** Config field the option fills. */
  field: keyof C & string;
  /** Flag without dashes, e.g. 'learning-rate'; default: the field in kebab case. */
  flag?: string;
  /** One-letter alias, e.g. 'k' for `-k`. */
  short?: string;
  kind: OptionKind;
  description: string;
}

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function parser(spec: OptionSpec<unknown>, flag: string): ((v: string) => unknown) | undefined {
  const k = spec.kind;
  if (k === 'int')
    return (v) => {
      const n = Number(v);
      if (!Number.isInteger(n)) throw new Error(`--${flag} expects an integer, got "${v}"`);
      return n;
    };
  if (k === 'float')
    return (v) => {
      const n = Number(v);
      if (!Number.isFinite(n)) throw new Error(`--${flag} expects a number, got "${v}"`);
      return n;
    };
  if (k === 'list')
    return (v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
  if (k === 'floats')
    return (v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .map((s) => {
          const n = Number(s);
          if (!Number.isFinite(n)) throw new Error(`--${flag} expects comma-separated numbers, got "${s}"`);
          return n;
        });
  return undefined;
}

/**
 * Parser of an integer option for commander: the value must be a whole number in [min, max];
 * the error names the option (`-k 1.5`, `-k 0` and `--limit x` are refused, not rounded).
 */
export function intArg(flag: string, min = 0, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n)) throw new Error(`${flag} expects a whole number, got "${v}"`);
    if (n < min || n > max)
      throw new Error(
        `${flag} must be ${max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `between ${min} and ${max}`}, got ${n}`,
      );
    return n;
  };
}

/** Parser of a number option in [min, max]; the error names the option. */
export function floatArg(flag: string, min = -Infinity, max = Infinity): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new Error(`${flag} expects a number, got "${v}"`);
    if (n < min || n > max) throw new Error(`${flag} must be between ${min} and ${max}, got ${n}`);
    return n;
  };
}

/** Adds the options of `specs` to `cmd`, with the library defaults shown in --help. */
export function addOptions<C>(cmd: Command, specs: OptionSpec<C>[], defaults?: Partial<C>): Command {
  for (const spec of specs) {
    const flag = spec.flag ?? kebab(spec.field);
    const def = defaults?.[spec.field];
    if (spec.kind === 'bool') {
      cmd.addOption(new Option(`--${flag}`, spec.description + (def === true ? ' (default: on)' : '')));
      cmd.addOption(new Option(`--no-${flag}`).hideHelp());
      continue;
    }
    // The default is shown, not set: an option the user did not give stays out of the partial config, so
    // the library's own default applies (and `defaults` should be that library DEFAULT_* object).
    const shown =
      def !== undefined && def !== null ? ` (default: ${Array.isArray(def) ? def.join(',') : String(def)})` : '';
    const opt = new Option(`${spec.short ? `-${spec.short}, ` : ''}--${flag} <value>`, spec.description + shown);
    if (typeof spec.kind === 'object') opt.choices(spec.kind.choices as string[]);
    const p = parser(spec as OptionSpec<unknown>, flag);
    if (p) opt.argParser(p);
    cmd.addOption(opt);
  }
  return cmd;
}

/** Collects the options of `specs` that the user gave into a partial config. */
export function readOptions<C>(opts: Record<string, unknown>, specs: OptionSpec<C>[]): Partial<C> {
  const out: Partial<C> = {};
  for (const spec of specs) {
    const flag = spec.flag ?? kebab(spec.field);
    const key = flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const v = opts[key];
    if (v !== undefined) (out as Record<string, unknown>)[spec.field] = v;
  }
  return out;
}
