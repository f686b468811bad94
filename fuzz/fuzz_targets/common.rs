//! What several targets share to build their inputs: splitting the fuzz
//! input into parts, writing a tar member, and a `docker save` archive.

use sha2::{Digest, Sha256};

/// `data` split on `sep` into at most `max` parts (the last keeps the rest,
/// separators included).
pub fn split<'a>(mut data: &'a [u8], sep: &[u8], max: usize) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    while out.len() + 1 < max {
        // The first byte before the slice: under the fuzzer's interceptors
        // a slice comparison per position was a tenth of a large input's time.
        match data
            .windows(sep.len())
            .position(|w| w[0] == sep[0] && w == sep)
        {
            Some(i) => {
                out.push(&data[..i]);
                data = &data[i + sep.len()..];
            }
            None => break,
        }
    }
    out.push(data);
    out
}

/// Append a regular file `name` holding `data`.
#[allow(dead_code)] // not every target that shares `split` writes a tar
pub fn append(builder: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    builder.append_data(&mut header, name, data).unwrap();
}

/// A `docker save` archive (Docker 25's layout: blobs named by digest)
/// holding `layers` as uncompressed layers, with a fixed config (`PATH`, an
/// entrypoint, a `USER`, one history step per layer); and each layer's
/// digest and the offset of its bytes in the archive.
#[allow(dead_code)] // not every target writes an image
pub fn docker_archive(layers: &[&[u8]]) -> (Vec<u8>, Vec<(String, u64)>) {
    let digests: Vec<String> = layers
        .iter()
        .map(|l| hex::encode(Sha256::digest(l)))
        .collect();
    let diff_ids: Vec<String> = digests.iter().map(|d| format!("\"sha256:{d}\"")).collect();
    let history: Vec<String> = (0..layers.len())
        .map(|i| format!("{{\"created_by\":\"RUN step {i}\"}}"))
        .collect();
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Env":["PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin"],"Entrypoint":["tiny"],"Cmd":["--help"],"User":"app"}},"rootfs":{{"type":"layers","diff_ids":[{}]}},"history":[{}]}}"#,
        diff_ids.join(","),
        history.join(",")
    );
    let config_hex = hex::encode(Sha256::digest(config.as_bytes()));
    let layer_names: Vec<String> = digests
        .iter()
        .map(|d| format!("\"blobs/sha256/{d}\""))
        .collect();
    let manifest = format!(
        r#"[{{"Config":"blobs/sha256/{config_hex}","RepoTags":["fuzz:latest"],"Layers":[{}]}}]"#,
        layer_names.join(",")
    );
    let mut b = tar::Builder::new(Vec::new());
    append(&mut b, "manifest.json", manifest.as_bytes());
    append(
        &mut b,
        &format!("blobs/sha256/{config_hex}"),
        config.as_bytes(),
    );
    let mut placed = Vec::new();
    for (l, d) in layers.iter().zip(&digests) {
        // The member's name fits in one header: its bytes follow it.
        let offset = b.get_ref().len() as u64 + 512;
        append(&mut b, &format!("blobs/sha256/{d}"), l);
        placed.push((format!("sha256:{d}"), offset));
    }
    (b.into_inner().unwrap(), placed)
}

/// How the image-level targets open `input`: linux/amd64, the analyzers'
/// extractors, `verify` as asked, through `registry` when given.
#[allow(dead_code)]
pub fn request(
    input: String,
    verify: bool,
    registry: Option<imgaudit::registry::Client>,
) -> imgaudit::source::OpenRequest {
    imgaudit::source::OpenRequest {
        input,
        tag: None,
        platform: imgaudit::source::Platform {
            os: "linux".into(),
            arch: "amd64".into(),
            variant: None,
        },
        verify,
        registry,
    }
}

/// A config with every kind of key (rules demoted and promoted, ignores by
/// rule, by path glob and by both, budgets far below any input), so that
/// the sink's overrides and ignores, the gate and `size-budget-exceeded`
/// run on what the fuzzer builds.
const CONFIG: &str = r#"
fail-on = "warning"

[rules]
record-mismatch = "warning"
metadata-malformed = "error"
shim-not-executable = "info"

[[ignore]]
rule = "entry-point-without-metadata"
path = "/usr/bin/*"
reason = "fuzz"

[[ignore]]
rule = "dependency-missing"
reason = "fuzz"

[[ignore]]
path = "/opt/venv/lib/**/tests/**"
reason = "fuzz"

[budget]
total = "64KiB"
layer = "16KiB"
waste = 1024
"#;

/// The config an input is audited with: the default, or (inputs of odd
/// length: half of them, whatever their format) [`CONFIG`]. Each is built
/// once per process, not per input (parsing the TOML and compiling its
/// globs is no part of what an input exercises).
#[allow(dead_code)]
pub fn config_for(data: &[u8]) -> &'static imgaudit::config::Config {
    use imgaudit::config::Config;
    use std::sync::LazyLock;
    static DEFAULT: LazyLock<Config> = LazyLock::new(Config::default);
    static FUZZ: LazyLock<Config> =
        LazyLock::new(|| Config::from_str(CONFIG, "fuzz.toml").expect("the fuzz config parses"));
    if data.len() % 2 == 0 {
        &DEFAULT
    } else {
        &FUZZ
    }
}

/// What `imgaudit IMAGE` does once the image is open: every check, the
/// sink and gate under `config`, all four report formats (verbose text),
/// the size view.
#[allow(dead_code)]
pub fn audit_everything(image: &imgaudit::image::Image, config: &imgaudit::config::Config) {
    use imgaudit::report::{render, text::TextOptions, Format};
    let audit = imgaudit::audit(image, config);
    let verbose = TextOptions {
        verbose: true,
        ..TextOptions::default()
    };
    for format in [Format::Text, Format::Json, Format::Sarif, Format::Junit] {
        let _ = render(&audit.report, format, &verbose);
    }
    let size = imgaudit::size::analyze(image);
    let _ = imgaudit::size::render_json(&size);
    let _ = imgaudit::size::render_text(&size, false);
}
