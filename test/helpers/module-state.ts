/**
 * Lists mutable state held at module level in a TypeScript tree: top-level
 * `let`/`var`, and top-level `const x = new Map|Set|WeakMap|WeakSet|<class>()`
 * or `const x = []`. Stateless helpers (TextEncoder, RegExp, Symbol, errors,
 * URL) and Sets/Maps built from a literal list (constant tables) are allowed.
 * Such state would be shared by every registry in a process.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

const STATELESS = new Set(['TextEncoder', 'TextDecoder', 'RegExp', 'Error', 'TypeError', 'Intl.Collator', 'URL', 'Symbol']);

function sourceFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...sourceFiles(path));
    else if (/\.(m|c)?ts$/.test(entry.name) && !entry.name.endsWith('.d.ts')) files.push(path);
  }
  return files;
}

/** One line per holder: `path:line name (kind)`. */
export function moduleStateHolders(root: string, dirs: readonly string[]): string[] {
  const holders: string[] = [];
  for (const file of dirs.flatMap((d) => sourceFiles(join(root, d)))) {
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    for (const statement of sf.statements) {
      if (!ts.isVariableStatement(statement)) continue;
      const isConst = (statement.declarationList.flags & ts.NodeFlags.Const) !== 0;
      for (const d of statement.declarationList.declarations) {
        const line = sf.getLineAndCharacterOfPosition(d.getStart(sf)).line + 1;
        const where = `${relative(root, file)}:${line} ${d.name.getText(sf)}`;
        if (!isConst) {
          holders.push(`${where} (let/var)`);
          continue;
        }
        let init = d.initializer;
        while (init !== undefined && (ts.isAsExpression(init) || ts.isParenthesizedExpression(init) || ts.isSatisfiesExpression(init))) init = init.expression;
        if (init === undefined) continue;
        if (ts.isNewExpression(init)) {
          const cls = init.expression.getText(sf);
          const table = /^(Set|Map|ReadonlySet|ReadonlyMap)$/.test(cls) && (init.arguments?.length ?? 0) > 0;
          if (!STATELESS.has(cls) && !table) holders.push(`${where} (new ${cls})`);
        } else if (ts.isArrayLiteralExpression(init) && init.elements.length === 0) {
          holders.push(`${where} ([])`);
        }
      }
    }
  }
  return holders;
}
