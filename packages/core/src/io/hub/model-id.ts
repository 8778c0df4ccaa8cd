/**
 * Hugging Face model ids as the framework accepts them wherever a model is named:
 * `org/name`, `org/name@revision`, and `org/name/path/file.gguf[@revision]` for one GGUF file.
 */

/** A parsed model id. */
export interface ModelId {
  /** `org/name`. */
  repo: string;
  /** Branch, tag or commit sha (default `main`). */
  revision: string;
  /** A `.gguf` file inside the repo when the id names one, else null. */
  file: string | null;
}

/** The revision used when an id names none. */
export const DEFAULT_REVISION = 'main';

/** The id forms, for error messages. */
export const MODEL_ID_FORMS = 'org/name, org/name@revision or org/name/file.gguf[@revision]';

// Hub repo names: letters, digits, '-', '_', '.'; no leading '-'/'.', no '--' or '..' (huggingface_hub's validate_repo_id).
const PART = '[A-Za-z0-9][A-Za-z0-9._-]{0,95}';
const ID_RE = new RegExp(`^(${PART})/(${PART})((?:/[^@/\\s]+)*\\.gguf)?(?:@([^\\s@]+))?$`);

/** A 40-hex-digit git commit sha. */
export function isCommitSha(revision: string): boolean {
  return /^[0-9a-f]{40}$/.test(revision);
}

/**
 * Parses `org/name[/file.gguf][@revision]`; null when `s` is not of that form.
 *
 * @example parseModelId('BAAI/bge-small-en-v1.5@main'); // { repo: 'BAAI/bge-small-en-v1.5', revision: 'main', file: null }
 */
export function parseModelId(s: string): ModelId | null {
  const m = ID_RE.exec(s);
  if (!m) return null;
  const [, org, name, file, revision] = m;
  if (/--|\.\./.test(org) || /--|\.\./.test(name) || name.endsWith('.git')) return null;
  if (file?.split('/').some((seg) => seg === '..' || seg === '.')) return null;
  return { repo: `${org}/${name}`, revision: revision ?? DEFAULT_REVISION, file: file ? file.slice(1) : null };
}

/** Whether `s` has the form of a Hub model id (says nothing about whether a local path of that name exists). */
export function isModelId(s: string): boolean {
  return parseModelId(s) !== null;
}

/** `org/name@revision` (plus the GGUF file), for messages. */
export function formatModelId(id: ModelId): string {
  return `${id.repo}${id.file ? `/${id.file}` : ''}@${id.revision}`;
}
