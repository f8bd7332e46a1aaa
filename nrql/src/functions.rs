//! Classification of NRQL function names.
//!
//! The parser accepts any function name; this module says which ones aggregate many
//! events into one value, which decides whether a query returns events or aggregates.

/// Aggregator functions documented by New Relic, lower-cased.
const AGGREGATORS: &[&str] = &[
    "apdex",
    "average",
    "bucketpercentile",
    "cardinality",
    "cdfpercentage",
    "count",
    "derivative",
    "earliest",
    "filter",
    "funnel",
    "histogram",
    "latest",
    "latestrate",
    "max",
    "median",
    "min",
    "percentage",
    "percentile",
    "predictlinear",
    "rate",
    "stddev",
    "stdvar",
    "sum",
    "uniquecount",
    "uniques",
    "bytecountestimate",
    "keyset",
];

/// Whether `name` is an aggregator function (`count`, `average`, `percentile`,
/// `uniqueCount`, `rate`, `funnel`, …). Case-insensitive, as NRQL is.
///
/// `keyset()` counts as an aggregator because New Relic evaluates it over the whole
/// result set rather than per event.
pub fn is_aggregator(name: &str) -> bool {
    AGGREGATORS.iter().any(|known| known.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_function_names() {
        let cases = [
            ("count", true),
            ("COUNT", true),
            ("uniqueCount", true),
            ("percentile", true),
            ("cdfPercentage", true),
            ("rate", true),
            ("funnel", true),
            ("keyset", true),
            ("if", false),
            ("capture", false),
            ("lower", false),
            ("round", false),
            ("hourOf", false),
            ("eventType", false),
            ("buckets", false),
            ("", false),
        ];
        for (name, expected) in cases {
            assert_eq!(is_aggregator(name), expected, "{name}");
        }
    }
}
