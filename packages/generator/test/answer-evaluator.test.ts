import { describe, expect, it } from 'vitest';
import { AnswerEvaluator, type RagPipeline, type RagAnswer } from '../src/index';

const items = [
  { question: 'What is a bagel a kind of?', answers: ['bread', 'a roll'] },
  { question: 'What is Gouda a kind of?', answers: ['cheese'] },
  { question: 'What is ratatouille a kind of?', answers: ['vegetable stew'] },
  { question: 'What is sushi?', answers: ['rice dish'] },
];

describe('AnswerEvaluator', () => {
  it('per-question exact match and F1, their means, and bootstrap intervals', () => {
    // 1: "The bread." normalises to "bread" → EM 1, F1 1.  2: "cake" → 0, 0.
    // 3: "stew" vs "vegetable stew": P 1, R 1/2 → F1 2/3.  4: "a rice dish" → EM 1 (article dropped).
    const r = new AnswerEvaluator(items).score(['The bread.', 'cake', 'stew', 'a rice dish']);
    expect(r.perQuestion.exact_match).toEqual([1, 0, 0, 1]);
    expect(r.perQuestion.f1[2]).toBeCloseTo(2 / 3, 12);
    expect(r.metrics.exact_match).toBe(0.5);
    expect(r.metrics.f1).toBeCloseTo((1 + 0 + 2 / 3 + 1) / 4, 12);
    expect(r.metrics.count).toBe(4);
    const [lo, hi] = r.ci95.exact_match;
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(lo).toBeLessThan(0.5);
    expect(hi).toBeGreaterThan(0.5);
    expect(hi).toBeLessThanOrEqual(1);
  });
  it('all right: zero-width interval at 1', () => {
    const r = new AnswerEvaluator(items).score(['bread', 'cheese', 'vegetable stew', 'rice dish']);
    expect(r.ci95).toEqual({ exact_match: [1, 1], f1: [1, 1] });
  });
  it('asks through the pipeline in question order', async () => {
    // A stub pipeline whose answers are known makes the expected scores exact.
    const rag = {
      askMany: async (qs: readonly string[]): Promise<RagAnswer[]> =>
        qs.map((q) => ({
          question: q,
          answer: q.includes('Gouda') ? 'cheese' : 'no',
          citations: [],
          finishReason: 'stop',
        })),
    } as unknown as RagPipeline;
    const r = await new AnswerEvaluator(items).evaluate(rag, { k: 1 });
    expect(r.perQuestion.exact_match).toEqual([0, 1, 0, 0]);
    expect(r.answers[1]!.answer).toBe('cheese');
  });
  it('errors name the problem', () => {
    expect(() => new AnswerEvaluator([])).toThrow('AnswerEvaluator: no questions');
    expect(() => new AnswerEvaluator([{ question: 'q?', answers: [] }])).toThrow(
      'AnswerEvaluator: question 1 ("q?") has no reference answer',
    );
    expect(() => new AnswerEvaluator(items).score(['x'])).toThrow('AnswerEvaluator: 1 predictions for 4 questions');
  });
});
