/**
 * Chat templates of instruct models (the Jinja `chat_template` of `tokenizer_config.json`, or GGUF's
 * `tokenizer.chat_template`), rendered with `@huggingface/jinja` (Hugging Face's JavaScript Jinja,
 * which transformers.js uses) the way `transformers`' `apply_chat_template` renders them: with
 * `messages`, `add_generation_prompt` and the special-token strings (`bos_token`, `eos_token`, …).
 */
import { Template } from '@huggingface/jinja';

/** One chat turn. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** A chat template and the special-token strings it may refer to (stored in `prompt_format.json`). */
export interface ChatTemplateSpec {
  /** Jinja source. */
  template: string;
  /** Special-token strings passed to the template (`bos_token`, `eos_token`, `unk_token`, `pad_token`). */
  specialTokens?: Record<string, string>;
  /** System message put before the user turn, or none (then the template's default, if it has one). */
  system?: string;
}

const SENTINEL = '\u0000DALM-CONTENT\u0000';

/** A compiled chat template. */
export class ChatTemplate {
  private readonly compiled: Template;

  /** Compiles `spec.template`; a syntax error names `source`. */
  constructor(
    readonly spec: ChatTemplateSpec,
    private readonly source = 'chat template',
  ) {
    try {
      this.compiled = new Template(spec.template);
    } catch (e) {
      throw new Error(`${source}: cannot parse the chat template: ${(e as Error).message}`);
    }
  }

  /**
   * Renders `messages` as `apply_chat_template(messages, add_generation_prompt, tokenize=False)` does.
   *
   * @example
   * tpl.render([{ role: 'user', content: 'Hi' }]); // '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n'
   */
  render(messages: readonly ChatMessage[], addGenerationPrompt = true): string {
    try {
      return this.compiled.render({
        ...(this.spec.specialTokens ?? {}),
        messages: messages.map((m) => ({ ...m })),
        add_generation_prompt: addGenerationPrompt,
      });
    } catch (e) {
      throw new Error(`${this.source}: rendering the chat template failed: ${(e as Error).message}`);
    }
  }

  /** The messages of a single-turn prompt whose user message is `content`. */
  messages(content: string): ChatMessage[] {
    return [
      ...(this.spec.system !== undefined ? [{ role: 'system' as const, content: this.spec.system }] : []),
      { role: 'user', content },
    ];
  }

  /**
   * The text before and after the user message of a single-turn prompt (system message, if set,
   * and generation prompt included), so a prompt can be assembled from token pieces and fit a budget.
   * Throws if the template does not place the content verbatim exactly once.
   */
  wrap(): { before: string; after: string } {
    const text = this.render(this.messages(SENTINEL));
    const parts = text.split(SENTINEL);
    if (parts.length !== 2) {
      throw new Error(
        `${this.source}: the chat template does not put the user message into the prompt exactly once, unchanged`,
      );
    }
    return { before: parts[0], after: parts[1] };
  }
}

/**
 * The chat template of a `tokenizer_config.json` object: its `chat_template` string, or the entry
 * named `default` of a list of `{name, template}`; null when it has none.
 */
export function chatTemplateFromTokenizerConfig(
  config: Record<string, unknown>,
  source = 'tokenizer_config.json',
): string | null {
  const t = config.chat_template;
  if (t === undefined || t === null) return null;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const entry = t.find((e) => e && typeof e === 'object' && (e as { name?: unknown }).name === 'default') as
      | { template?: unknown }
      | undefined;
    if (entry && typeof entry.template === 'string') return entry.template;
    throw new Error(`${source}: "chat_template" is a list without a "default" entry`);
  }
  throw new Error(`${source}: "chat_template" must be a string or a list of {name, template}`);
}

/** Special-token strings of a tokenizer config (`bos_token` etc., plain or `{content}`), as templates see them. */
export function templateSpecialTokens(config: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token']) {
    const v = config[key];
    if (typeof v === 'string') out[key] = v;
    else if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string')
      out[key] = (v as { content: string }).content;
  }
  return out;
}
