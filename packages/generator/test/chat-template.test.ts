/**
 * Chat templates rendered with @huggingface/jinja, against strings written out by hand from the
 * template's definition, and the RAG prompt built inside one (no bos; the blocks are the user turn).
 */
import { describe, it, expect } from 'vitest';
import { ByteLevelBPETokenizer, byteLevelBPEFiles, BYTE_TO_CHAR } from '@dalm/core';
import {
  buildPrompt,
  CHAT_PROMPT_FORMAT,
  ChatTemplate,
  chatTemplateFromTokenizerConfig,
  validatePromptFormat,
} from '../src/index';

const CHATML =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
const LLAMA3 =
  "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

describe('chat templates', () => {
  it('renders ChatML with and without the generation prompt', () => {
    const t = new ChatTemplate({ template: CHATML });
    const msgs = [
      { role: 'system' as const, content: 'Be brief.' },
      { role: 'user' as const, content: 'Hi' },
    ];
    expect(t.render(msgs)).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(t.render(msgs, false)).toBe('<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n');
  });

  it('passes special-token strings and frames a single user turn (system message included)', () => {
    const t = new ChatTemplate({ template: LLAMA3, specialTokens: { bos_token: '<|begin_of_text|>' }, system: 'S' });
    expect(t.wrap()).toEqual({
      before:
        '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n',
      after: '<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    });
  });

  it('reads tokenizer_config chat_template (string or named list) and names bad templates', () => {
    expect(chatTemplateFromTokenizerConfig({ chat_template: CHATML })).toBe(CHATML);
    expect(
      chatTemplateFromTokenizerConfig({
        chat_template: [
          { name: 'tool_use', template: 'x' },
          { name: 'default', template: CHATML },
        ],
      }),
    ).toBe(CHATML);
    expect(chatTemplateFromTokenizerConfig({})).toBeNull();
    expect(() => chatTemplateFromTokenizerConfig({ chat_template: [{ name: 'x', template: 'y' }] }, 'tc.json')).toThrow(
      /tc.json: "chat_template" is a list without a "default" entry/,
    );
    expect(() => new ChatTemplate({ template: '{% for %}' }, 'm/tokenizer_config.json')).toThrow(
      /m\/tokenizer_config.json: cannot parse the chat template/,
    );
    expect(() => validatePromptFormat({ ...CHAT_PROMPT_FORMAT, chat: { template: 'no content here' } })).toThrow(
      /does not put the user message into the prompt exactly once/,
    );
  });

  it('builds the RAG prompt as the user turn, without bos, with passages trimmed to the budget', () => {
    const specials = ['<|im_start|>', '<|im_end|>'];
    const { json, config } = byteLevelBPEFiles({
      vocab: [...specials, ...BYTE_TO_CHAR],
      merges: [],
      addedTokens: specials,
      special: { eos: '<|im_end|>' },
    });
    const tok = ByteLevelBPETokenizer.fromJSON(json, config);
    const format = { ...CHAT_PROMPT_FORMAT, chat: { template: CHATML } };
    const passages = [{ id: 'p1', title: 'T', text: 'abc' }];
    const expectedText =
      '<|im_start|>user\nAnswer the question from the passages.\n[p1] T: abc\nQuestion: why?<|im_end|>\n<|im_start|>assistant\n';
    const full = buildPrompt(tok, format, 'why?', passages, 1000, 99);
    expect(full.ids).toEqual(tok.encode(expectedText, { addSpecialTokens: false })); // byte-level: one id per byte, specials whole
    expect(full.ids[0]).toBe(0); // <|im_start|>, not the bos 99
    const tight = buildPrompt(tok, format, 'why?', passages, full.ids.length - 2, 99);
    expect(tight.passages).toEqual([{ id: 'p1', keptTokens: 2, totalTokens: 4 }]); // " abc" cut to " a"
  });
});
