/** The three-passage corpus the server tests, the browser test and `pnpm bench serve` index. */
import type { Passage } from '@dalm/retriever';

export const corpus: Passage[] = [
  {
    id: 'a',
    title: 'Bats',
    source: 'bats.md',
    start: 0,
    end: 49,
    text: 'Bats host many coronaviruses in their intestines.',
  },
  {
    id: 'b',
    title: 'Masks',
    source: 'masks.md',
    start: 0,
    end: 58,
    text: 'Surgical masks reduce droplet transmission between people.',
  },
  {
    id: 'c',
    title: 'Incubation',
    source: 'incubation.md',
    start: 0,
    end: 55,
    text: 'The incubation period of the virus is about five days.',
  },
];
