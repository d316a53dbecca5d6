// Numbers as smartctl's text output prints them: thousands separated by the locale's choice (`,` `.` `'` `’`, a
// space, a no-break space, or U+FFFD where a Windows console mangled one), followed by `bytes` or `[1.00 TB]`.

const SEPARATOR = "[,.'’\\u00a0\\u202f\\ufffd ]";
const GROUPED = new RegExp(`^\\d{1,3}(?:(${SEPARATOR})\\d{3})(?:\\1\\d{3})*$`);

/**
 * "500,107,862,016 bytes [500 GB]", "12’000’138’625’024 bytes", "1 000 204 886 016 [1,00 TB]", "119,699",
 * "10\uFFFD779" → the integer; null when the digits are not a plain number or consistently grouped by
 * thousands (a damaged "300,$00,000,000 bytes" is null, not 300).
 */
export function countOf(text: string | undefined): number | null {
  // the number runs to the first space, or on through space-separated groups of three digits
  const m = /^\s*(\d[^\s[]*(?:\s\d{3}(?=[\s[]|$))*)\s*(?:bytes\b|\[|$)/.exec(text ?? '');
  if (!m) return null;
  const digits = m[1]!;
  if (/^\d+$/.test(digits)) return Number(digits);
  return GROUPED.test(digits) ? Number(digits.replace(/\D/g, '')) : null;
}

/** The leading integer of a value such as "34 (Min/Max 14/79)", "100%", "38 Celsius", "-41"; null otherwise. */
export function leadingInteger(text: string | undefined): number | null {
  const m = /^\s*(-?\d+)/.exec(text ?? '');
  return m ? Number(m[1]) : null;
}
