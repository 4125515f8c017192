//! The two units the reference APIs take as bare numbers: memory and storage in GiB
//! (`"memory_limit": "8"` means `8Gi`) and CPU in cores (`"cpu_limit": "4"`).
//! Both accept a JSON string or number, so `"8"`, `8`, `8.5` and `"8Gi"` all work.

use serde::{Deserialize, Serialize};

use super::newtype::StringOrNumber;
use super::{ParseError, Quantity};

const BYTES_PER_MIB: i128 = 1024 * 1024;

/// A size in GiB. Accepts `8`, `"8"`, `8.5` or `"8Gi"`; renders as `8Gi` / `8.5Gi`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "StringOrNumber", into = "String")]
pub struct Gibibytes {
    /// The number of GiB, normalized (`8`, `8.5`), without the unit.
    number: String,
    quantity: Quantity,
}

impl Gibibytes {
    pub fn parse(input: &str) -> Result<Gibibytes, ParseError> {
        let number = input.strip_suffix("Gi").unwrap_or(input);
        let plain = Quantity::parse(number)
            .ok()
            .filter(|q| q.suffix().is_empty() && !number.starts_with('+'));
        if input.starts_with('-') {
            return Err(ParseError::new(format!("`{input}` must not be negative")));
        }
        if plain.is_none() {
            return Err(ParseError::new(format!(
                "`{input}` is not a size in GiB: give a number such as 8 or 8.5, \
                 optionally followed by `Gi`"
            )));
        }
        let number = normalize_decimal(number);
        let quantity = Quantity::parse(&format!("{number}Gi"))?;
        Ok(Gibibytes { number, quantity })
    }

    /// A whole number of GiB.
    pub fn whole(gib: u64) -> Gibibytes {
        Gibibytes::parse(&gib.to_string()).expect("a whole number of GiB is valid")
    }

    /// The Kubernetes spelling, e.g. `8Gi`.
    pub fn as_str(&self) -> &str {
        self.quantity.as_str()
    }

    /// The number of GiB without the unit, e.g. `8` or `8.5`.
    pub fn number(&self) -> &str {
        &self.number
    }

    pub fn quantity(&self) -> &Quantity {
        &self.quantity
    }

    /// The size in MiB, rounded up: Pods in the cluster reference are sized in `Mi`.
    pub fn mebibytes(&self) -> u64 {
        let bytes = self.quantity.value();
        let mib = (bytes + BYTES_PER_MIB - 1) / BYTES_PER_MIB;
        u64::try_from(mib).unwrap_or(u64::MAX)
    }

    /// The size in GiB as a float, for totals shown to people.
    pub fn as_f64(&self) -> f64 {
        self.quantity.as_f64() / (1024.0 * 1024.0 * 1024.0)
    }

    pub fn is_zero(&self) -> bool {
        self.quantity.is_zero()
    }
}

/// `007.50` → `7.5`, `8.0` → `8`, `.5` → `0.5`.
fn normalize_decimal(number: &str) -> String {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let whole = whole.trim_start_matches('0');
    let whole = if whole.is_empty() { "0" } else { whole };
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        whole.to_owned()
    } else {
        format!("{whole}.{fraction}")
    }
}

impl TryFrom<StringOrNumber> for Gibibytes {
    type Error = ParseError;
    fn try_from(value: StringOrNumber) -> Result<Self, Self::Error> {
        Gibibytes::parse(&value.0)
    }
}

impl From<Gibibytes> for String {
    fn from(value: Gibibytes) -> String {
        value.quantity.into()
    }
}

impl std::fmt::Display for Gibibytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl schemars::JsonSchema for Gibibytes {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Gibibytes".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": ["string", "number"],
            "minimum": 0,
            "pattern": "^([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(Gi)?$",
            "description": "A size in GiB: a number (`8`, `8.5`) or a string (`\"8\"`, `\"8Gi\"`)."
        })
    }
}

/// A CPU amount in cores: `4`, `"4"`, `0.5` or `"500m"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "StringOrNumber", into = "String")]
pub struct CpuQuantity(Quantity);

impl CpuQuantity {
    pub fn parse(input: &str) -> Result<CpuQuantity, ParseError> {
        let quantity = Quantity::parse(input)?;
        if !matches!(quantity.suffix(), "" | "m") {
            return Err(ParseError::new(format!(
                "`{input}` is not a CPU amount: give cores such as 2 or 0.5, or millicores \
                 such as 500m"
            )));
        }
        Ok(CpuQuantity(quantity))
    }

    /// A whole number of cores.
    pub fn whole(cores: u64) -> CpuQuantity {
        CpuQuantity(Quantity::whole(cores))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn quantity(&self) -> &Quantity {
        &self.0
    }

    /// Thousandths of a core, rounded up: `0.5` → 500.
    pub fn millicores(&self) -> i128 {
        self.0.milli_value()
    }

    /// The number of cores when it is whole (a KubeVirt VM needs whole cores).
    pub fn whole_cores(&self) -> Option<u32> {
        let milli = self.millicores();
        (milli % 1000 == 0 && self.0.nanos() % 1_000_000 == 0)
            .then(|| u32::try_from(milli / 1000).ok())
            .flatten()
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }
}

impl TryFrom<StringOrNumber> for CpuQuantity {
    type Error = ParseError;
    fn try_from(value: StringOrNumber) -> Result<Self, Self::Error> {
        CpuQuantity::parse(&value.0)
    }
}

impl From<CpuQuantity> for String {
    fn from(value: CpuQuantity) -> String {
        value.0.into()
    }
}

impl std::fmt::Display for CpuQuantity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl schemars::JsonSchema for CpuQuantity {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "CpuQuantity".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": ["string", "number"],
            "minimum": 0,
            "pattern": "^\\+?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)m?$",
            "description": "CPU in cores: a number (`4`, `0.5`) or a string (`\"4\"`, `\"500m\"`)."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn gib(value: serde_json::Value) -> Result<Gibibytes, serde_json::Error> {
        serde_json::from_value(value)
    }

    #[test]
    fn gibibytes_accept_every_spelling_and_render_with_gi() {
        for (input, rendered) in [
            (json!("8"), "8Gi"),
            (json!(8), "8Gi"),
            (json!("8Gi"), "8Gi"),
            (json!(8.5), "8.5Gi"),
            (json!("08.50"), "8.5Gi"),
            (json!(".5"), "0.5Gi"),
        ] {
            assert_eq!(gib(input.clone()).unwrap().as_str(), rendered, "{input}");
        }
        assert_eq!(
            serde_json::to_value(Gibibytes::whole(4)).unwrap(),
            json!("4Gi")
        );
    }

    #[test]
    fn gibibytes_refuse_other_units_and_negatives() {
        for bad in [
            json!("8G"),
            json!("512Mi"),
            json!("1e3"),
            json!("+8"),
            json!("x"),
        ] {
            let err = gib(bad.clone()).unwrap_err().to_string();
            assert!(err.contains("is not a size in GiB"), "{bad}: {err}");
        }
        assert!(gib(json!(-1)).unwrap_err().to_string().contains("negative"));
    }

    #[test]
    fn gibibytes_convert_to_mebibytes_for_pods() {
        assert_eq!(Gibibytes::parse("2").unwrap().mebibytes(), 2048);
        assert_eq!(Gibibytes::parse("0.5").unwrap().mebibytes(), 512);
        assert_eq!(Gibibytes::parse("8.5").unwrap().number(), "8.5");
    }

    #[test]
    fn cpu_accepts_cores_and_millicores_only() {
        let cpu: CpuQuantity = serde_json::from_value(json!("500m")).unwrap();
        assert_eq!(cpu.millicores(), 500);
        let cpu: CpuQuantity = serde_json::from_value(json!(2.0)).unwrap();
        assert_eq!(cpu.as_str(), "2");
        assert_eq!(cpu.whole_cores(), Some(2));
        assert_eq!(CpuQuantity::parse("1.5").unwrap().whole_cores(), None);
        assert_eq!(CpuQuantity::parse("2000m").unwrap().whole_cores(), Some(2));
        let err = CpuQuantity::parse("2Gi").unwrap_err();
        assert!(err.message().contains("not a CPU amount"), "{err}");
        assert!(
            CpuQuantity::parse("-1")
                .unwrap_err()
                .message()
                .contains("negative")
        );
    }
}
