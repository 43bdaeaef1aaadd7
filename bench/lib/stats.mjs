// Order statistics for benchmark samples: median, min/max and the
// interquartile range (robust against the odd slow run on a shared machine).

/** Linear-interpolated quantile q (0..1) of numbers. */
export function quantile(values, q) {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

/** { median, min, max, q1, q3, n } of the samples. */
export function summarize(values) {
  return {
    median: quantile(values, 0.5),
    min: Math.min(...values),
    max: Math.max(...values),
    q1: quantile(values, 0.25),
    q3: quantile(values, 0.75),
    n: values.length,
  };
}

/** Round for display and JSON: enough digits for the unit, no float noise. */
export function round(v, digits = 1) {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
