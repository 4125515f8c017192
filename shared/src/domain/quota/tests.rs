//! The reference's GPU scenarios and partial-update examples, with the results it states.

use super::*;

const GPU: &str = "requests.nvidia.com/gpu";
const L4: &str = "requests.nvidia.com/l4";
const T4: &str = "requests.nvidia.com/t4";
const H100: &str = "requests.nvidia.com/h100";

fn keys(list: &[&str]) -> Vec<String> {
    list.iter().map(|k| (*k).to_owned()).collect()
}

fn map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn resources(entries: &[(&str, &str)]) -> QuotaRequest {
    QuotaRequest {
        resources: entries
            .iter()
            .map(|(k, v)| (QuotaKey::parse(k).unwrap(), Quantity::parse(v).unwrap()))
            .collect(),
        ..QuotaRequest::default()
    }
}

#[test]
fn scenario_1_creating_with_only_l4_zeroes_the_other_configured_gpus() {
    let quota = initial_quota(
        &resources(&[(L4, "2")]),
        &QuotaDefaults::default(),
        &keys(&[GPU, L4, T4]),
    );
    assert_eq!(
        quota,
        map(&[
            ("cpu", "2"),
            ("memory", "4Gi"),
            ("requests.storage", "10Gi"),
            (GPU, "0"),
            (L4, "2"),
            (T4, "0"),
        ])
    );
}

#[test]
fn scenario_2_several_gpu_types_keep_their_explicit_values() {
    let quota = initial_quota(
        &resources(&[(L4, "2"), (H100, "1")]),
        &QuotaDefaults::default(),
        &keys(&[GPU, L4, T4]),
    );
    assert_eq!(quota[GPU], "0");
    assert_eq!(quota[L4], "2");
    assert_eq!(quota[T4], "0");
    assert_eq!(quota[H100], "1");
}

#[test]
fn scenario_3_non_gpu_resources_leave_gpu_quota_untouched() {
    let existing = map(&[("cpu", "4"), (GPU, "0"), (L4, "2"), (T4, "1")]);
    let quota = merge_quota(
        &existing,
        &resources(&[("persistentvolumeclaims", "5"), ("services", "10")]),
        &keys(&[GPU, L4, T4]),
    );
    assert_eq!(
        quota,
        map(&[
            ("cpu", "4"),
            (GPU, "0"),
            (L4, "2"),
            (T4, "1"),
            ("persistentvolumeclaims", "5"),
            ("services", "10"),
        ])
    );
}

#[test]
fn asking_for_h100_zeroes_every_configured_gpu_key() {
    let existing = map(&[("cpu", "4"), (GPU, "1"), (L4, "2")]);
    let quota = merge_quota(&existing, &resources(&[(H100, "1")]), &keys(&[GPU, L4]));
    assert_eq!(
        quota,
        map(&[("cpu", "4"), (GPU, "0"), (L4, "0"), (H100, "1")])
    );
}

#[test]
fn updating_l4_zeroes_the_other_gpus_as_the_faq_states() {
    let existing = map(&[(GPU, "1"), (L4, "1"), (T4, "3")]);
    let quota = merge_quota(&existing, &resources(&[(L4, "2")]), &keys(&[GPU, L4, T4]));
    assert_eq!(quota, map(&[(GPU, "0"), (L4, "2"), (T4, "0")]));
}

#[test]
fn gpu_keys_already_in_the_quota_are_zeroed_even_when_not_configured() {
    let a100 = "requests.nvidia.com/a100";
    let mi300 = "amd.com/gpu";
    let existing = map(&[(a100, "4"), (mi300, "2"), ("pods", "20")]);
    let quota = merge_quota(&existing, &resources(&[(L4, "1")]), &keys(&[GPU, L4]));
    assert_eq!(
        quota,
        map(&[
            (a100, "0"),
            (mi300, "0"),
            (GPU, "0"),
            (L4, "1"),
            ("pods", "20")
        ])
    );
}

#[test]
fn updating_only_cpu_leaves_memory_and_gpus_unchanged() {
    let existing = map(&[
        ("cpu", "8"),
        ("memory", "16Gi"),
        ("requests.storage", "30Gi"),
        (GPU, "0"),
        (L4, "2"),
    ]);
    let request = QuotaRequest {
        cpu_limit: Some(CpuQuantity::parse("16").unwrap()),
        ..QuotaRequest::default()
    };
    let quota = merge_quota(&existing, &request, &keys(&[GPU, L4]));
    let mut expected = existing.clone();
    expected.insert("cpu".into(), "16".into());
    assert_eq!(quota, expected);
}

#[test]
fn the_reference_update_yields_its_documented_response() {
    // PUT {"cpu_limit": "8", "memory_limit": "16", "resources": {"requests.nvidia.com/l4": "2"}}
    let existing = map(&[
        ("cpu", "4"),
        ("memory", "8Gi"),
        ("requests.storage", "30Gi"),
        (L4, "1"),
    ]);
    let request = QuotaRequest {
        cpu_limit: Some(CpuQuantity::parse("8").unwrap()),
        memory_limit: Some(Gibibytes::parse("16").unwrap()),
        ..resources(&[(L4, "2")])
    };
    let quota = merge_quota(&existing, &request, &keys(&[L4]));
    assert_eq!(
        quota,
        map(&[
            ("cpu", "8"),
            ("memory", "16Gi"),
            (L4, "2"),
            ("requests.storage", "30Gi"),
        ])
    );
}

#[test]
fn a_project_created_without_resources_gets_the_defaults_and_no_gpus() {
    let quota = initial_quota(
        &QuotaRequest::default(),
        &QuotaDefaults::default(),
        &keys(&[GPU, L4]),
    );
    assert_eq!(
        quota,
        map(&[
            ("cpu", "2"),
            ("memory", "4Gi"),
            ("requests.storage", "10Gi"),
            (GPU, "0"),
            (L4, "0"),
        ])
    );
}

#[test]
fn configured_defaults_and_given_fields_are_translated() {
    let defaults = QuotaDefaults {
        cpu: CpuQuantity::whole(4),
        memory: Gibibytes::whole(8),
        storage: Gibibytes::whole(20),
        gpu: Quantity::zero(),
    };
    let request = QuotaRequest {
        storage_size: Some(Gibibytes::parse("50").unwrap()),
        ..QuotaRequest::default()
    };
    let quota = initial_quota(&request, &defaults, &[]);
    assert_eq!(
        quota,
        map(&[
            ("cpu", "4"),
            ("memory", "8Gi"),
            ("requests.storage", "50Gi")
        ])
    );
}

#[test]
fn gpu_keys_are_recognised_by_configuration_or_pattern() {
    let configured = keys(&["requests.habana.ai/gaudi"]);
    for gpu in [
        L4,
        "nvidia.com/gpu",
        "amd.com/gpu",
        "requests.example.com/GPU-mig",
    ] {
        assert!(is_gpu_key(gpu, &[]), "{gpu}");
    }
    assert!(is_gpu_key("requests.habana.ai/gaudi", &configured));
    for other in ["cpu", "requests.cpu", "persistentvolumeclaims", "services"] {
        assert!(!is_gpu_key(other, &configured), "{other}");
    }
}
