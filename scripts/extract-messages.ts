// Builds po/labvirt.pot from the source (the server's src/ and the web console's web/src/)
// and the error catalogue, then merges it into every po/*.po (creating es.po when missing).
// Run after adding or changing a user-facing string:
//   npm run build && node dist/scripts/extract-messages.js
// then translate the entries left empty or fuzzy in po/*.po.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { GettextExtractor, JsExtractors } from 'gettext-extractor';
import { po, type GetTextTranslation, type GetTextTranslations } from 'gettext-parser';
import { errorCodes, messageTemplate } from '../src/domain/errors.js';

/** From dist/scripts/ the repository root is two levels up. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

// The AST nodes come from gettext-extractor's own TypeScript (5.x), whose SyntaxKind numbers
// and types need not match the project's compiler: ask that copy, and read nodes by shape.
interface ExtractorTs {
  SyntaxKind: Record<'CallExpression' | 'Identifier' | 'PropertyAccessExpression', number>;
  ScriptKind: { TS: number; TSX: number };
}
const ts = createRequire(createRequire(import.meta.url).resolve('gettext-extractor'))(
  'typescript',
) as ExtractorTs;
interface CalleeShape {
  kind: number;
  text?: string;
  name?: { text: string };
  getText(sourceFile: unknown): string;
}

type ExtractorFunction = Parameters<
  ReturnType<GettextExtractor['createJsParser']>['addExtractor']
>[0];

/** The marker functions and where their literal arguments are. */
const markers = {
  t: { text: 0 },
  N_: { text: 0 },
  phrase: { text: 0 },
  tn: { text: 0, textPlural: 1 },
  tc: { context: 0, text: 1 },
} as const;
type Marker = keyof typeof markers;
const isMarker = (name: string): name is Marker => Object.hasOwn(markers, name);

// Comments before a call starting "TRANSLATORS:" reach the translator as #. lines.
const commentOptions = {
  otherLineLeading: true,
  sameLineLeading: true,
  regex: /^TRANSLATORS:\s*(.*)$/s,
};

/**
 * gettext-extractor matches callees by exact dotted name ("tr.t"); a translator is reached
 * through many names (tr, io, request.tr, this.tr), so match any chain ending in a marker and
 * hand the call to the stock extractor built for that exact chain.
 */
function markerCallExtractor(): ExtractorFunction {
  const byCallee = new Map<string, ExtractorFunction>();
  return (node, sourceFile, addMessage, lineNumberStart) => {
    if (node.kind !== ts.SyntaxKind.CallExpression) return;
    const callee = (node as unknown as { expression: CalleeShape }).expression;
    const name =
      callee.kind === ts.SyntaxKind.Identifier
        ? callee.text
        : callee.kind === ts.SyntaxKind.PropertyAccessExpression
          ? callee.name?.text
          : undefined;
    if (name === undefined || !isMarker(name)) return;
    const calleeText = callee.getText(sourceFile).replace(/\s+/g, '');
    if (!/^[\w$]+(\.[\w$]+)*$/.test(calleeText)) return; // e.g. f().t(...): no stable name
    let extractor = byCallee.get(calleeText);
    if (!extractor) {
      extractor = JsExtractors.callExpression(calleeText, {
        arguments: markers[name],
        comments: commentOptions,
      });
      byCallee.set(calleeText, extractor);
    }
    extractor(node, sourceFile, addMessage, lineNumberStart);
  };
}

/** Every .ts and .tsx under directory (none when it is missing: a checkout without web/). */
function sourceFiles(directory: string): string[] {
  if (!existsSync(directory)) return [];
  return readdirSync(directory, { withFileTypes: true })
    .flatMap((entry) => {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) return sourceFiles(path);
      return /\.tsx?$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
    })
    .sort();
}

/** Line of each error code's entry in errors.ts, for the #: reference. */
function errorCodeLines(root: string): Map<string, number> {
  const path = join(root, 'src/domain/errors.ts');
  const lines = existsSync(path) ? readFileSync(path, 'utf8').split('\n') : [];
  const result = new Map<string, number>();
  lines.forEach((line, index) => {
    const match = /^\s*([A-Z][A-Z0-9_]*): \{/.exec(line);
    if (match?.[1]) result.set(match[1], index + 1);
  });
  return result;
}

export const potHeaders = {
  'Project-Id-Version': 'LabVirt',
  'Report-Msgid-Bugs-To': '',
  'Language-Team': '',
  Language: '',
  'MIME-Version': '1.0',
  'Content-Type': 'text/plain; charset=UTF-8',
  'Content-Transfer-Encoding': '8bit',
  'Plural-Forms': 'nplurals=INTEGER; plural=EXPRESSION;',
};

/** The template catalogue, built in memory (no file is touched). */
export function buildTemplate(root: string = repoRoot): GetTextTranslations {
  const extractor = new GettextExtractor();
  const parser = extractor.createJsParser([markerCallExtractor()]);
  // The web console marks its strings with the same names (t, tn, tc, N_), so one
  // catalogue serves both, and the API's and the console's words agree.
  for (const file of [...sourceFiles(join(root, 'src')), ...sourceFiles(join(root, 'web/src'))]) {
    const name = relative(root, file).split('\\').join('/');
    const scriptKind = file.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
    parser.parseString(readFileSync(file, 'utf8'), name, { scriptKind });
  }
  const lines = errorCodeLines(root);
  for (const code of errorCodes) {
    extractor.addMessage({
      text: messageTemplate(code),
      references: [`src/domain/errors.ts:${lines.get(code) ?? 1}`],
      comments: [`error code ${code}`],
    });
  }

  const translations: GetTextTranslations['translations'] = {
    '': { '': { msgid: '', msgstr: [''] } },
  };
  // In source order (file, then line), so translators see related messages together.
  const position = (references: string[]): [string, number] => {
    const [file = '', line = '0'] = (references[0] ?? '').split(/:(?=\d+$)/);
    return [file, Number(line)];
  };
  const messages = extractor.getMessages().sort((a, b) => {
    const [fileA, lineA] = position(a.references);
    const [fileB, lineB] = position(b.references);
    return fileA < fileB ? -1 : fileA > fileB ? 1 : lineA - lineB;
  });
  for (const message of messages) {
    if (message.text === null) continue;
    const context = message.context ?? '';
    const entry: GetTextTranslation = {
      msgid: message.text,
      msgstr: message.textPlural ? ['', ''] : [''],
      comments: {
        extracted: message.comments.join('\n'),
        reference: message.references.join('\n'),
        // Lets msgfmt --check-format verify a translation keeps the {name} placeholders.
        ...(/\{\w+\}/.test(message.text) ? { flag: 'python-brace-format' } : {}),
      },
    };
    if (context) entry.msgctxt = context;
    if (message.textPlural) entry.msgid_plural = message.textPlural;
    (translations[context] ??= {})[message.text] = entry;
  }
  return { charset: 'utf-8', headers: potHeaders, translations };
}

export const spanishHeaders = {
  ...potHeaders,
  'Language-Team': 'Spanish',
  Language: 'es',
  'Plural-Forms': 'nplurals=2; plural=(n != 1);',
};

/** Write po/labvirt.pot, create po/es.po if missing, msgmerge the pot into every po/*.po. */
export function updateCatalogs(root: string = repoRoot): void {
  const poDirectory = join(root, 'po');
  const potPath = join(poDirectory, 'labvirt.pot');
  const template = buildTemplate(root);
  writeFileSync(potPath, po.compile(template, { foldLength: 79 }));

  const esPath = join(poDirectory, 'es.po');
  if (!existsSync(esPath)) {
    writeFileSync(esPath, po.compile({ ...template, headers: spanishHeaders }, { foldLength: 79 }));
  }
  for (const name of readdirSync(poDirectory).filter((file) => file.endsWith('.po'))) {
    const path = join(poDirectory, name);
    execFileSync(
      'msgmerge',
      ['--quiet', '--update', '--backup=none', '--no-fuzzy-matching', path, potPath],
      { stdio: 'inherit' },
    );
    console.log(`extract-messages: merged ${relative(root, potPath)} into ${relative(root, path)}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  updateCatalogs();
}
