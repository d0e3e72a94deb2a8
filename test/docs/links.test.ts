/**
 * Every relative link of the pages a reader lands on (README.md, SECURITY.md,
 * CHANGELOG.md, docs/**) leads to a file of the repository, and every
 * `#fragment` of a link to a page names one of its headings. A link into a
 * git-ignored folder (dist/, api-docs/) counts as broken: a fresh clone has
 * none of it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { anchorsOf, findBrokenLinks, headingSlug } from '../helpers/markdown-links.js';

const root = resolve(new URL('../../', import.meta.url).pathname);

function pages(): string[] {
  const top = ['README.md', 'SECURITY.md', 'CHANGELOG.md'];
  const docs = existsSync(join(root, 'docs'))
    ? readdirSync(join(root, 'docs'), { recursive: true, encoding: 'utf8' })
        .filter((name) => name.endsWith('.md'))
        .map((name) => join('docs', name))
    : [];
  return [...top, ...docs];
}

/** Paths git would put in a clone or a commit: tracked, or new and not ignored. */
function repositoryPaths(): (path: string) => boolean {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
    .split('\0')
    .filter(Boolean);
  const known = new Set<string>(['']);
  for (const file of files) {
    const parts = file.split('/');
    for (let i = 1; i <= parts.length; i++) known.add(parts.slice(0, i).join(sep));
  }
  return (path) => known.has(relative(root, path));
}

describe('documentation links', () => {
  it('finds the pages it checks', () => {
    for (const page of ['README.md', 'SECURITY.md', 'CHANGELOG.md']) expect(existsSync(join(root, page)), page).toBe(true);
  });

  it('resolves every relative link of README, SECURITY, CHANGELOG and docs/ to a file, and every anchor to a heading', () => {
    const broken = findBrokenLinks(root, pages(), repositoryPaths());
    expect(broken.map((b) => `${b.file}:${b.line} ${b.target}: ${b.reason}`)).toEqual([]);
  });
});

describe('the link checker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sockpass-links-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('anchors headings as GitHub does', () => {
    expect(headingSlug('The `authenticate` event (two round trips)')).toBe('the-authenticate-event-two-round-trips');
    expect(headingSlug('Migrating from passport.socketio to tokens')).toBe('migrating-from-passportsocketio-to-tokens');
    expect(headingSlug('Client helpers (`sockpass/client`)')).toBe('client-helpers-sockpassclient');
    expect(headingSlug('Many nodes: [`examples/cluster/`](examples/cluster/)')).toBe('many-nodes-examplescluster');
    expect([...anchorsOf('# A\n## A\n## The `x` way\n```\n# not a heading\n```\n<a id="custom"></a>\n')]).toEqual(['a', 'a-1', 'the-x-way', 'custom']);
  });

  it('reports a missing file, a missing heading, a path out of the repository and an ignored target, and nothing in code', () => {
    mkdirSync(join(dir, 'docs'), { recursive: true });
    mkdirSync(join(dir, 'build'), { recursive: true });
    writeFileSync(join(dir, 'docs', 'b.md'), '# Page B\n\n## Two words\n');
    writeFileSync(
      join(dir, 'a.md'),
      [
        '# Page A',
        'Good: [b](docs/b.md), [b heading](docs/b.md#two-words), [self](#page-a), [dir](docs/), [web](https://example.com/x).',
        'Bad: [missing](docs/nope.md) and [anchor](docs/b.md#three-words).',
        '[out]: ../elsewhere.md',
        '![ignored](build/x.png)',
        '`[in code](nowhere.md)`',
        '```md',
        '[in a fence](nowhere.md)',
        '```',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'build', 'x.png'), '');
    const broken = findBrokenLinks(dir, ['a.md'], (path) => !path.includes(`${sep}build`));
    expect(broken.map((b) => [b.line, b.target, b.reason])).toEqual([
      [3, 'docs/nope.md', 'no such file'],
      [3, 'docs/b.md#three-words', 'no heading for #three-words in docs/b.md'],
      [4, '../elsewhere.md', 'points outside the repository'],
      [5, 'build/x.png', 'not part of the repository (ignored by git)'],
    ]);
  });
});
