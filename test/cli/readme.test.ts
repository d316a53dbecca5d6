// The README says what an operator needs: its Debian package list is the one .ci/run installs.
import { readFileSync } from 'node:fs';
import t from 'tap';

const read = (p: string) => readFileSync(new URL(`../../${p}`, import.meta.url), 'utf8');

t.test('the README lists exactly the Debian packages .ci/run installs', async (t) => {
  const array = /^DEBIAN_PACKAGES=\(\n([\s\S]*?)\n\)/m.exec(read('.ci/run'))?.[1];
  t.ok(array, '.ci/run has its DEBIAN_PACKAGES list');
  const ci = array!
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const paragraph = /The tests talk to real peers from Debian \(`\.ci\/run` lists and installs them\):\n([\s\S]*?)\n\n/.exec(read('README.md'))?.[1];
  t.ok(paragraph, 'the README has its Debian paragraph');
  const readme = [...paragraph!.matchAll(/`([a-z0-9][a-z0-9.+-]+)`/g)].map((m) => m[1]!).filter((name) => !name.startsWith('apt-get'));
  t.same([...readme].sort(), [...ci].sort());
});
