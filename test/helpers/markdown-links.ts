/**
 * Finds the relative links of a set of Markdown files that lead nowhere: a
 * target file or folder that is not in the repository, or a `#fragment` that
 * names no heading of the target page. GitHub's rules for heading anchors
 * (lower case, punctuation dropped, spaces to hyphens, `-1`, `-2` for
 * repeats), and only what GitHub renders as a link: nothing inside code.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';

export interface BrokenLink {
  /** The page holding the link, relative to the root. */
  file: string;
  line: number;
  target: string;
  reason: string;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const ATX_HEADING = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/;
const INLINE_LINK = /!?\[(?:[^\][]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;
const REFERENCE_DEFINITION = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/;
const HTML_ANCHOR = /<a\s+(?:[^>]*\s)?(?:id|name)="([^"]+)"/g;
const HTML_LINK = /<(?:a|img)\s+(?:[^>]*\s)?(?:href|src)="([^"]+)"/g;
const SCHEME = /^[a-z][a-z0-9+.-]*:/i;

/** Lines of a page outside fenced code blocks: `raw`, and `text` with inline code spans blanked. */
function proseLines(text: string): Array<{ line: number; text: string; raw: string }> {
  const out: Array<{ line: number; text: string; raw: string }> = [];
  let fence: string | undefined;
  text.split('\n').forEach((raw, index) => {
    const opener = FENCE.exec(raw)?.[1];
    if (fence !== undefined) {
      if (opener !== undefined && opener[0] === fence[0] && opener.length >= fence.length) fence = undefined;
      return;
    }
    if (opener !== undefined) {
      fence = opener;
      return;
    }
    out.push({ line: index + 1, raw, text: raw.replace(/(`+)[^`]*?\1/g, (code) => ' '.repeat(code.length)) });
  });
  return out;
}

/** GitHub's anchor for a heading's text (github-slugger's rule). */
export function headingSlug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link in a heading anchors on its text
    .replace(/<[^>]+>/g, '')
    .replace(/`/g, '');
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a page offers: its headings' slugs (numbered when repeated) and explicit HTML anchors. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const { text, raw } of proseLines(markdown)) {
    // The raw line: code in a heading is part of its anchor.
    const heading = ATX_HEADING.exec(raw)?.[1];
    if (heading !== undefined) {
      const slug = headingSlug(heading);
      const count = seen.get(slug) ?? 0;
      seen.set(slug, count + 1);
      anchors.add(count === 0 ? slug : `${slug}-${count}`);
    }
    for (const match of text.matchAll(HTML_ANCHOR)) anchors.add(match[1]!);
  }
  return anchors;
}

/** The link targets a page holds, with their line numbers. */
export function linksOf(markdown: string): Array<{ line: number; target: string }> {
  const links: Array<{ line: number; target: string }> = [];
  for (const { line, text } of proseLines(markdown)) {
    const definition = REFERENCE_DEFINITION.exec(text)?.[1];
    if (definition !== undefined) links.push({ line, target: definition });
    for (const match of text.matchAll(INLINE_LINK)) links.push({ line, target: match[1]! });
    for (const match of text.matchAll(HTML_LINK)) links.push({ line, target: match[1]! });
  }
  return links;
}

/**
 * Checks every relative link of `files` (paths relative to `root`). A target
 * outside `root`, or one `isAllowed` refuses (e.g. a git-ignored build output
 * that a fresh clone does not have), counts as broken.
 */
export function findBrokenLinks(root: string, files: readonly string[], isAllowed: (path: string) => boolean = () => true): BrokenLink[] {
  const broken: BrokenLink[] = [];
  const anchorCache = new Map<string, Set<string>>();
  const anchorsIn = (path: string) => {
    let anchors = anchorCache.get(path);
    if (anchors === undefined) anchorCache.set(path, (anchors = anchorsOf(readFileSync(path, 'utf8'))));
    return anchors;
  };

  for (const file of files) {
    const source = resolve(root, file);
    for (const { line, target } of linksOf(readFileSync(source, 'utf8'))) {
      if (SCHEME.test(target) || target.startsWith('//')) continue; // https:, mailto:: not ours to check offline
      const hash = target.indexOf('#');
      const pathPart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
      const fragment = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
      const path = pathPart === '' ? source : resolve(pathPart.startsWith('/') ? root : dirname(source), pathPart.replace(/^\//, ''));
      const report = (reason: string) => broken.push({ file, line, target, reason });

      const inside = relative(root, path);
      if (inside.startsWith(`..${sep}`) || inside === '..') {
        report('points outside the repository');
        continue;
      }
      if (!existsSync(path)) {
        report('no such file');
        continue;
      }
      if (!isAllowed(path)) {
        report('not part of the repository (ignored by git)');
        continue;
      }
      if (fragment === undefined || fragment === '' || !path.endsWith('.md') || !statSync(path).isFile()) continue;
      const anchors = anchorsIn(path);
      if (!anchors.has(fragment) && !anchors.has(fragment.toLowerCase())) report(`no heading for #${fragment} in ${relative(root, path) || file}`);
    }
  }
  return broken;
}
