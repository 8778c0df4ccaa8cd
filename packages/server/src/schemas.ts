/** JSON schemas of the request bodies (Fastify validates them with Ajv; errors name the field). */
import { RETRIEVAL_MODES } from '@dalm/retriever';
import type { ServerConfig } from './config';

const generation = (c: ServerConfig) => ({
  max_tokens: { type: 'integer', minimum: 1, maximum: c.maxTokens },
  maxNewTokens: { type: 'integer', minimum: 1, maximum: c.maxTokens },
  temperature: { type: 'number', minimum: 0, maximum: 10 },
  top_p: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
  topP: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
  topK: { type: 'integer', minimum: 1 },
  seed: { type: 'integer' },
  stop: {
    anyOf: [
      { type: 'string', maxLength: 200 },
      { type: 'array', maxItems: 8, items: { type: 'string', maxLength: 200 } },
    ],
  },
  stream: { type: 'boolean' },
});

const retrieval = (_c: ServerConfig) => ({
  k: { type: 'integer', minimum: 1, maximum: 50 },
  mode: { type: 'string', enum: [...RETRIEVAL_MODES] },
});

const text = (c: ServerConfig) => ({ type: 'string', minLength: 1, maxLength: c.maxQuestionChars, pattern: '\\S' });

export function searchSchema(c: ServerConfig) {
  return { type: 'object', required: ['query'], properties: { query: text(c), ...retrieval(c) } };
}

export function askSchema(c: ServerConfig) {
  return {
    type: 'object',
    required: ['question'],
    properties: { question: text(c), closedBook: { type: 'boolean' }, ...retrieval(c), ...generation(c) },
  };
}

export function chatSchema(c: ServerConfig) {
  return {
    type: 'object',
    required: ['messages'],
    properties: {
      model: { type: 'string' },
      messages: {
        type: 'array',
        minItems: 1,
        maxItems: 64,
        items: {
          type: 'object',
          required: ['role', 'content'],
          properties: {
            role: { type: 'string', enum: ['system', 'developer', 'user', 'assistant', 'tool'] },
            content: {
              anyOf: [{ type: 'string', maxLength: c.maxQuestionChars }, { type: 'array' }, { type: 'null' }],
            },
          },
        },
      },
      n: { type: 'integer', minimum: 1, maximum: 1 },
      ...retrieval(c),
      ...generation(c),
    },
  };
}

export function embeddingsSchema(c: ServerConfig) {
  return {
    type: 'object',
    required: ['input'],
    properties: {
      model: { type: 'string' },
      input: { anyOf: [text(c), { type: 'array', minItems: 1, maxItems: 256, items: text(c) }] },
      encoding_format: { type: 'string', enum: ['float', 'base64'] },
    },
  };
}
