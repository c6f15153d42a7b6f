// frametap UI: JSON exactly as written. JSON.parse turns every number into a double, so 12345678901234567890
// would read 12345678901234567000, -0 would read 0 and 1e400 Infinity: a debugging tool must never show a value
// that was not on the wire. Here a JSON text is cut into its tokens as written (the pretty view re-indents them),
// and read into values that keep any number a double would show as another value as the text it was written as.

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const LITERAL = /true|false|null/y;

/**
 * The tokens of a JSON text, each the source text as written: punctuation (`{`, `}`, `[`, `]`, `:`, `,`), a string
 * literal with its quotes and escapes, a number literal, or `true`, `false`, `null`. Its first character says which.
 * A text that is not made of JSON tokens throws a SyntaxError; the grammar itself is not checked (JSON.parse does).
 */
export function jsonTokens(text) {
  const tokens = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') { i++; continue; }
    let end;
    if ('{}[]:,'.includes(ch)) end = i + 1;
    else if (ch === '"') end = stringEnd(text, i);
    else {
      const re = ch === 't' || ch === 'f' || ch === 'n' ? LITERAL : NUMBER;
      re.lastIndex = i;
      if (!re.test(text)) throw new SyntaxError(`not a JSON token at offset ${i}`);
      end = re.lastIndex;
    }
    tokens.push(text.slice(i, end));
    i = end;
  }
  return tokens;
}

/** Where the string literal opening at `start` ends (just past its closing quote). */
function stringEnd(text, start) {
  let from = start + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote < 0) throw new SyntaxError(`unterminated string at offset ${start}`);
    let backslashes = 0;
    while (text[quote - 1 - backslashes] === '\\') backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

/** A number a double cannot hold exactly, kept as written; shown as written, and compared as the nearest double. */
export class ExactNumber {
  constructor(source) { this.source = source; }
  toString() { return this.source; }
  valueOf() { return Number(this.source); }
}

/** A number literal's value as sign, significant digits and exponent ("1436.0" and "1436" both read "+1436e0"). */
function decimal(literal) {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal);
  if (!m) return null; // Infinity, NaN
  const [, sign, whole, fraction = '', exponent = '0'] = m;
  let digits = (whole + fraction).replace(/^0+/, '');
  let exp = Number(exponent) - fraction.length;
  const trailing = digits.length - digits.replace(/0+$/, '').length;
  digits = digits.slice(0, digits.length - trailing);
  exp += trailing;
  return `${sign || '+'}${digits || '0'}e${digits ? exp : 0}`;
}

/** Whether a double shows the value a number literal was written with (0.1 and 1e16 do; 2^53 + 1, -0 and 1e400 do not). */
function fitsDouble(literal) {
  return decimal(literal) === decimal(String(Number(literal)));
}

/**
 * A JSON text as values, as JSON.parse reads it, except that a number whose double would show another value
 * (12345678901234567890, -0, 1e400, 0.1000000000000000055511151231257827) is an ExactNumber.
 * Takes only what JSON.parse accepts: it checks the text with it first.
 */
export function parseExact(text) {
  const plain = JSON.parse(text);
  const tokens = jsonTokens(text);
  if (!tokens.some(t => /^-?\d/.test(t) && !fitsDouble(t))) return plain;
  let i = 0;
  const value = () => {
    const t = tokens[i++];
    if (t === '{') {
      const object = {};
      if (tokens[i] === '}') { i++; return object; }
      do {
        const key = JSON.parse(tokens[i]);
        i += 2; // the key and its colon
        // Like JSON.parse: "__proto__" is an own property, not the object's prototype.
        Object.defineProperty(object, key, { value: value(), writable: true, enumerable: true, configurable: true });
      } while (tokens[i++] === ',');
      return object;
    }
    if (t === '[') {
      const array = [];
      if (tokens[i] === ']') { i++; return array; }
      do array.push(value()); while (tokens[i++] === ',');
      return array;
    }
    if (t[0] === '"') return JSON.parse(t);
    if (t === 'true' || t === 'false' || t === 'null') return JSON.parse(t);
    return fitsDouble(t) ? Number(t) : new ExactNumber(t);
  };
  return value();
}
