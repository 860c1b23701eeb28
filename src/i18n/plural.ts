// Plural-Forms support. The header's `plural=` is a C expression over n; it comes from a
// file, so it is parsed by a tiny recursive-descent parser into closures instead of being
// handed to eval/new Function (which would run whatever a .po file contained).

export type PluralRule = (n: number) => number;

/** What English, Spanish and any catalogue whose rule cannot be read use. */
export const germanicPlural: PluralRule = (n) => (n !== 1 ? 1 : 0);

export interface PluralForms {
  nplurals: number;
  plural: PluralRule;
}

/** Read "nplurals=3; plural=(n==1 ? 0 : n%10>=2 && ... );" falling back to n != 1. */
export function parsePluralForms(header: string | undefined): PluralForms {
  const nplurals = Number(/nplurals\s*=\s*(\d+)/.exec(header ?? '')?.[1] ?? 2);
  const expression = /plural\s*=\s*([^;]+)/.exec(header ?? '')?.[1];
  if (!Number.isInteger(nplurals) || nplurals < 1) return { nplurals: 2, plural: germanicPlural };
  let rule: PluralRule = germanicPlural;
  if (expression !== undefined) {
    try {
      rule = compilePluralExpression(expression);
    } catch {
      // An unreadable rule must not take the catalogue down with it.
    }
  }
  // Out-of-range answers (a broken rule) select the first form rather than a missing one.
  const plural: PluralRule = (n) => {
    const index = rule(n);
    return Number.isInteger(index) && index >= 0 && index < nplurals ? index : 0;
  };
  return { nplurals, plural };
}

type Node = (n: number) => number;

const tokenPattern = /\s*(\d+|n|\|\||&&|==|!=|<=|>=|[-+*/%<>!?:()])/y;

function tokenize(source: string): string[] {
  const tokens: string[] = [];
  tokenPattern.lastIndex = 0;
  while (tokenPattern.lastIndex < source.length) {
    if (/^\s*$/.test(source.slice(tokenPattern.lastIndex))) break;
    const match = tokenPattern.exec(source);
    if (match?.[1] === undefined) throw new SyntaxError(`bad plural expression: ${source}`);
    tokens.push(match[1]);
  }
  return tokens;
}

const binary: Record<string, (a: number, b: number) => number> = {
  '||': (a, b) => (a || b ? 1 : 0),
  '&&': (a, b) => (a && b ? 1 : 0),
  '==': (a, b) => (a === b ? 1 : 0),
  '!=': (a, b) => (a !== b ? 1 : 0),
  '<': (a, b) => (a < b ? 1 : 0),
  '>': (a, b) => (a > b ? 1 : 0),
  '<=': (a, b) => (a <= b ? 1 : 0),
  '>=': (a, b) => (a >= b ? 1 : 0),
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  // C integer division; a zero divisor yields 0 rather than Infinity/NaN.
  '/': (a, b) => (b === 0 ? 0 : Math.trunc(a / b)),
  '%': (a, b) => (b === 0 ? 0 : a % b),
};

// C precedence, loosest first (the ternary is handled above these).
const levels = [['||'], ['&&'], ['==', '!='], ['<', '>', '<=', '>='], ['+', '-'], ['*', '/', '%']];

/** Compile a C plural expression over the unsigned integer n. Throws on anything else. */
export function compilePluralExpression(source: string): PluralRule {
  const tokens = tokenize(source);
  let position = 0;
  const peek = (): string | undefined => tokens[position];
  const expect = (token: string): void => {
    if (tokens[position] !== token) throw new SyntaxError(`expected ${token} in ${source}`);
    position += 1;
  };

  const ternary = (): Node => {
    const condition = level(0);
    if (peek() !== '?') return condition;
    position += 1;
    const then = ternary();
    expect(':');
    const otherwise = ternary();
    return (n) => (condition(n) ? then(n) : otherwise(n));
  };

  const level = (depth: number): Node => {
    const operators = levels[depth];
    if (operators === undefined) return unary();
    let left = level(depth + 1);
    for (let op = peek(); op !== undefined && operators.includes(op); op = peek()) {
      position += 1;
      const right = level(depth + 1);
      const apply = binary[op];
      if (apply === undefined) throw new SyntaxError(`unknown operator ${op}`);
      const l = left;
      left = (n) => apply(l(n), right(n));
    }
    return left;
  };

  const unary = (): Node => {
    const token = peek();
    position += 1;
    if (token === '!') {
      const operand = unary();
      return (n) => (operand(n) ? 0 : 1);
    }
    if (token === '(') {
      const inner = ternary();
      expect(')');
      return inner;
    }
    if (token === 'n') return (n) => n;
    if (token !== undefined && /^\d+$/.test(token)) {
      const value = Number(token);
      return () => value;
    }
    throw new SyntaxError(`unexpected ${token ?? 'end'} in plural expression ${source}`);
  };

  const root = ternary();
  if (position !== tokens.length) throw new SyntaxError(`trailing input in ${source}`);
  return (n) => root(Math.abs(Math.trunc(n)));
}
