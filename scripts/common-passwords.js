/**
 * Regenerates src/accounts/common-passwords.txt, the list the password policy refuses
 * (docs/accounts.md), from the ranked password list of @zxcvbn-ts/language-common (MIT; a dev
 * dependency): zxcvbn's 49,233 most frequent passwords of public breach corpora, most common first.
 * Only entries that the length rule would not already refuse (8 code points or more) are kept,
 * lower-cased and de-duplicated, in rank order.
 *
 *   node scripts/common-passwords.js
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const source = require.resolve('@zxcvbn-ts/language-common/package.json');
const { version, license } = JSON.parse(readFileSync(source, 'utf8'));
const ranked = JSON.parse(readFileSync(new URL('src/passwords.json', `file://${source}`), 'utf8'));

const MIN_LENGTH = 8;
const seen = new Set();
for (const entry of ranked) {
  const word = entry.normalize('NFKC').toLowerCase();
  if ([...word].length >= MIN_LENGTH && !/[\r\n]/.test(word)) seen.add(word);
}
const header = [
  `# The most common passwords that are ${MIN_LENGTH} characters or longer, most common first (${seen.size} of ${ranked.length}).`,
  `# Source: @zxcvbn-ts/language-common ${version} (${license}), src/passwords.json: zxcvbn's ranked list`,
  '# of passwords seen most often in public breach corpora. Lower-cased. Regenerate: node scripts/common-passwords.js',
];
writeFileSync(new URL('../src/accounts/common-passwords.txt', import.meta.url), `${[...header, ...seen].join('\n')}\n`);
process.stdout.write(`${seen.size} passwords written\n`);
