//! Numbers for JSON: ±∞ and NaN as strings.

/// A number for JSON: finite values as numbers, ±∞ and NaN as the strings `"inf"`, `"-inf"`,
/// `"nan"` (serde_json would write them as `null`, indistinguishable from "absent").
pub fn serialize_f64<S: serde::Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    if x.is_finite() {
        s.serialize_f64(*x)
    } else if x.is_nan() {
        s.serialize_str("nan")
    } else if *x > 0.0 {
        s.serialize_str("inf")
    } else {
        s.serialize_str("-inf")
    }
}

/// [`serialize_f64`] for an optional number (`None` stays `null`: "does not exist").
pub fn serialize_opt_f64<S: serde::Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match x {
        Some(v) => serialize_f64(v, s),
        None => s.serialize_none(),
    }
}
