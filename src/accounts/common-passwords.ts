import { readFileSync } from 'node:fs';

let list: ReadonlySet<string> | undefined;

/**
 * The common passwords the policy refuses (common-passwords.txt beside this file: where it comes
 * from and how to regenerate it are in its header), lower-cased, read once per process.
 */
export function commonPasswords(): ReadonlySet<string> {
  list ??= new Set(
    readFileSync(new URL('./common-passwords.txt', import.meta.url), 'utf8')
      .split('\n')
      .filter((line) => line && !line.startsWith('#')),
  );
  return list;
}
