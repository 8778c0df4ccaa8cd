import { describe, expect, it } from 'vitest';
import type { Passage } from '@dalm/retriever';
import { pairsFromQa, qaCoverageNote, qrelsFromQa, type QaExample } from '../src/index';

const P = (id: string, text: string): Passage => ({ id, text, source: id, start: 0, end: text.length });
const corpus = [P('a', 'Bats host coronaviruses.'), P('b', 'Masks reduce transmission.')];
const qa: QaExample[] = [
  { id: '1', question: 'Who hosts?', answers: ['bats'], positiveIds: ['a'] },
  { id: '2', question: 'What reduces?', answers: ['masks'], positiveIds: ['b', 'zz'] },
  { id: '3', question: 'No ids?', answers: ['x'] },
  { id: '4', question: 'Empty ids?', answers: ['x'], positiveIds: [] },
  { id: '5', question: 'Elsewhere?', answers: ['x'], positiveIds: ['yy'] },
];

describe('QA examples as retrieval data', () => {
  it('qrelsFromQa: one grade-1 judgement per positive id; examples without ids counted', () => {
    const { queries, qrels, withoutPositives } = qrelsFromQa(qa);
    expect(queries.map((q) => q.id)).toEqual(['1', '2', '5']);
    expect([...qrels.get('2')!]).toEqual([
      ['b', 1],
      ['zz', 1],
    ]);
    expect(withoutPositives).toBe(2);
  });
  it('pairsFromQa: pairs of positives found in the corpus, the rest counted', () => {
    const r = pairsFromQa(qa, corpus);
    expect(r.pairs).toEqual([
      { query: 'Who hosts?', positive: 'Bats host coronaviruses.', positiveId: 'a' },
      { query: 'What reduces?', positive: 'Masks reduce transmission.', positiveId: 'b' },
    ]);
    expect(r.positives.get('What reduces?')).toEqual(new Set(['b']));
    expect({ withoutPositives: r.withoutPositives, notInCorpus: r.notInCorpus, missingIds: r.missingIds }).toEqual({
      withoutPositives: 2,
      notInCorpus: 1,
      missingIds: 2,
    });
    expect(qaCoverageNote(r)).toBe(
      'left out 2 examples without positive_ids, 1 examples whose positive_ids are all missing from the corpus, 2 positive ids not in the corpus',
    );
  });
  it('pairsFromQa errors when nothing matches, naming the source and an id', () => {
    expect(() => pairsFromQa([qa[4]!], corpus, 'train.jsonl')).toThrow(
      'train.jsonl: no example has a positive_ids entry found in the corpus (1 examples name ids such as "yy" that the 2 passages lack)',
    );
    expect(() => pairsFromQa([qa[2]!], corpus, 'train.jsonl')).toThrow('train.jsonl: no example has positive_ids');
  });
});
