/**
 * Shared machinery of the native (in-process, offset-aware) tokenizers built
 * from a tokenizer.json: added-token splitting, post-processing, id mapping,
 * decoding clean-up and saving. Behaviour mirrors transformers.js 2.x so a
 * saved tokenizer gives the same ids when loaded there.
 */
import { AddedTokenSplitter, parseAddedTokens, type AddedTokenJSON } from './added-tokens';
import {
  resolveSpecialTokenIds,
  saveTokenizerFiles,
  tokenizerFiles,
  type DecodeOptions,
  type EncodeOptions,
  type EncodingWithOffsets,
  type SpecialTokenIds,
  type Tokenizer,
  type TokenizerConfigJSON,
  type TokenizerJSON,
} from './tokenizer';

/** A token string with its [start, end) span in the text it came from. */
export interface TokenPiece {
  token: string;
  start: number;
  end: number;
}

type PostProcess = (pieces: TokenPiece[], addSpecialTokens: boolean) => TokenPiece[];

/** Raised when a tokenizer.json uses a component the native tokenizers do not implement. */
export class UnsupportedTokenizerError extends Error {}

function specialPiece(token: string): TokenPiece {
  return { token, start: 0, end: 0 };
}

/** The single-sequence behaviour of a tokenizer.json `post_processor`. */
function parsePostProcessor(json: unknown, source: string): PostProcess {
  if (json === null || json === undefined) return (p) => p;
  const cfg = json as Record<string, unknown>;
  switch (cfg.type) {
    case 'ByteLevel':
      return (p) => p;
    case 'TemplateProcessing': {
      const single = cfg.single;
      if (!Array.isArray(single)) throw new Error(`${source}: TemplateProcessing needs a "single" array`);
      const items = single.map((item: Record<string, { id?: unknown }>, i) => {
        if (item.SpecialToken && typeof item.SpecialToken.id === 'string') return { special: item.SpecialToken.id };
        if (item.Sequence) return { special: null };
        throw new Error(`${source}: TemplateProcessing single[${i}] must be a SpecialToken or a Sequence`);
      });
      return (p, add) => items.flatMap((it) => (it.special === null ? p : add ? [specialPiece(it.special)] : []));
    }
    case 'BertProcessing':
    case 'RobertaProcessing': {
      const cls = (cfg.cls as unknown[] | undefined)?.[0];
      const sep = (cfg.sep as unknown[] | undefined)?.[0];
      if (typeof cls !== 'string' || typeof sep !== 'string')
        throw new Error(`${source}: ${cfg.type} needs "cls" and "sep"`);
      return (p, add) => (add ? [specialPiece(cls), ...p, specialPiece(sep)] : p);
    }
    case 'Sequence': {
      const steps = ((cfg.processors as unknown[]) ?? []).map((x) => parsePostProcessor(x, source));
      return (p, add) => steps.reduce((acc, step) => step(acc, add), p);
    }
    default:
      throw new UnsupportedTokenizerError(
        `${source}: post_processor type ${JSON.stringify(cfg.type)} is not supported natively`,
      );
  }
}

/**
 * transformers.js' `clean_up_tokenization`: removes spaces before
 * punctuation and inside English contractions.
 */
export function cleanUpTokenization(text: string): string {
  return text
    .replace(/ \./g, '.')
    .replace(/ \?/g, '?')
    .replace(/ !/g, '!')
    .replace(/ ,/g, ',')
    .replace(/ ' /g, "'")
    .replace(/ n't/g, "n't")
    .replace(/ 'm/g, "'m")
    .replace(/ 's/g, "'s")
    .replace(/ 've/g, "'ve")
    .replace(/ 're/g, "'re");
}

/** Reads a model's `vocab` object (token → id). */
export function parseVocab(value: unknown, source: string): Map<string, number> {
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new Error(`${source}: model.vocab must be an object of token → id`);
  const vocab = new Map<string, number>();
  for (const [tok, id] of Object.entries(value)) {
    if (!Number.isInteger(id) || (id as number) < 0)
      throw new Error(`${source}: model.vocab[${JSON.stringify(tok)}] must be a non-negative integer id`);
    vocab.set(tok, id as number);
  }
  return vocab;
}

/**
 * Base class: subclasses supply the model-specific tokenization of one plain
 * text section ({@link NativeTokenizer.tokenizeText}) and the decoder.
 */
export abstract class NativeTokenizer implements Tokenizer {
  readonly supportsOffsets = true;
  readonly vocabSize: number;
  readonly special: SpecialTokenIds;
  protected readonly addedTokens: AddedTokenJSON[];
  protected readonly unkToken: string | undefined;
  private readonly ids = new Map<string, number>();
  private readonly tokens: Array<string | undefined> = [];
  private readonly splitter: AddedTokenSplitter;
  private readonly postProcess: PostProcess;
  private readonly specialStrings: Set<string>;
  private readonly addedStrings: Set<string>;
  private readonly cleanUpSpaces: boolean;
  private readonly fuseUnk: boolean;

  protected constructor(
    private readonly json: TokenizerJSON,
    private readonly config: TokenizerConfigJSON,
    private readonly specialTokensMap: Record<string, unknown> | undefined,
    modelVocab: Map<string, number>,
    source: string,
  ) {
    const model = json.model as Record<string, unknown>;
    for (const [tok, id] of modelVocab) {
      this.ids.set(tok, id);
      this.tokens[id] = tok;
    }
    this.addedTokens = parseAddedTokens(json.added_tokens, source);
    for (const t of this.addedTokens) {
      this.ids.set(t.content, t.id);
      this.tokens[t.id] = t.content;
    }
    this.addedStrings = new Set(this.addedTokens.map((t) => t.content));
    this.vocabSize = this.tokens.length;
    this.unkToken = typeof model.unk_token === 'string' ? model.unk_token : undefined;
    this.fuseUnk = model.fuse_unk === true;
    this.splitter = new AddedTokenSplitter(this.addedTokens);
    this.postProcess = parsePostProcessor(json.post_processor, source);
    const additional = Array.isArray(config.additional_special_tokens) ? config.additional_special_tokens : [];
    this.specialStrings = new Set([
      ...this.addedTokens.filter((t) => t.special).map((t) => t.content),
      ...additional.map((t: unknown) => (typeof t === 'string' ? t : ((t as { content?: string })?.content ?? ''))),
    ]);
    this.cleanUpSpaces = config.clean_up_tokenization_spaces !== false;
    this.special = resolveSpecialTokenIds((t) => this.ids.get(t), config, specialTokensMap);
    for (const rm of ['remove_space', 'do_lowercase_and_remove_accent'] as const) {
      if (config[rm])
        throw new UnsupportedTokenizerError(`${source}: tokenizer_config option ${rm} is not supported natively`);
    }
  }

  /** Tokenizes one plain-text section (no added tokens) into pieces with spans relative to `text`. */
  protected abstract tokenizeText(text: string, withOffsets: boolean): TokenPiece[];

  /** The tokenizer.json decoder applied to token strings (before clean-up). */
  protected abstract decodeTokens(tokens: string[]): string;

  private pieces(text: string, options: EncodeOptions | undefined, withOffsets: boolean): TokenPiece[] {
    const out: TokenPiece[] = [];
    let covered = 0; // spans are kept in order and non-overlapping
    const push = (token: string, start: number, end: number): void => {
      start = Math.max(start, covered);
      end = Math.max(end, start);
      out.push({ token, start, end });
      covered = end;
    };
    for (const section of this.splitter.split(text)) {
      if (section.added) {
        push(section.added.content, section.start, section.start + section.text.length);
        continue;
      }
      let pieces = this.tokenizeText(section.text, withOffsets);
      if (this.fuseUnk) pieces = this.fuseUnknown(pieces);
      for (const p of pieces) push(p.token, p.start + section.start, p.end + section.start);
    }
    return this.postProcess(out, options?.addSpecialTokens ?? true);
  }

  private fuseUnknown(pieces: TokenPiece[]): TokenPiece[] {
    const out: TokenPiece[] = [];
    for (const p of pieces) {
      const isUnk = !this.ids.has(p.token) || p.token === this.unkToken;
      const last = out[out.length - 1];
      if (isUnk && last && (!this.ids.has(last.token) || last.token === this.unkToken)) last.end = p.end;
      else out.push({ ...p });
    }
    return out;
  }

  private toId(token: string): number {
    const id = this.ids.get(token) ?? (this.unkToken !== undefined ? this.ids.get(this.unkToken) : undefined);
    if (id === undefined)
      throw new Error(`token ${JSON.stringify(token)} is not in the vocabulary and the tokenizer has no unk token`);
    return id;
  }

  encode(text: string, options?: EncodeOptions): number[] {
    return this.pieces(text, options, false).map((p) => this.toId(p.token));
  }

  encodeWithOffsets(text: string, options?: EncodeOptions): EncodingWithOffsets {
    const pieces = this.pieces(text, options, true);
    return { ids: pieces.map((p) => this.toId(p.token)), offsets: pieces.map((p) => [p.start, p.end]) };
  }

  decode(ids: readonly number[], options?: DecodeOptions): string {
    let tokens = ids.map((id) => {
      const tok = this.tokens[id] ?? this.unkToken;
      if (tok === undefined) throw new Error(`decode: id ${id} is outside the vocabulary (size ${this.vocabSize})`);
      return tok;
    });
    if (options?.skipSpecialTokens) tokens = tokens.filter((t) => !this.specialStrings.has(t));
    const text = this.decodeTokens(tokens);
    return this.cleanUpSpaces ? cleanUpTokenization(text) : text;
  }

  tokenToId(token: string): number | undefined {
    return this.ids.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.tokens[id];
  }

  /** Whether `token` is the content of an added token. */
  protected isAddedToken(token: string): boolean {
    return this.addedStrings.has(token);
  }

  toJSON(): TokenizerJSON {
    return structuredClone(this.json);
  }

  /** The tokenizer_config.json object. */
  tokenizerConfig(): TokenizerConfigJSON {
    return structuredClone(this.config);
  }

  toFiles(): Record<string, string> {
    return tokenizerFiles(this.json, this.config, this.specialTokensMap);
  }

  async save(dir: string): Promise<void> {
    await saveTokenizerFiles(dir, this.toFiles());
  }
}
