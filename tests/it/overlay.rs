//! The overlay edge cases listed in `images.md` ("Edge cases the overlay must
//! have tests for"), one test each, through the library: every test asserts
//! the complete merged tree (path, type, mode, size, producing layer, symlink
//! target, and the file's bytes read back with `MergedTree::read`). Then
//! waste accounting from `Image::effects`, and the same cases through every
//! input format and compression giving byte-identical `files --format jsonl`.
//!
//! The layer sets live in [`CASES`] so the differential oracle
//! (`oracle.rs`) runs the very same inputs through `umoci unpack`.

use imgaudit::overlay::Cause;
use imgaudit::tree::{Kind, TreeError};
use serde_json::json;

use crate::util::{
    compress, digest, docker_archive, docker_archive_bytes, files_jsonl, layer_media_type, listing,
    oci_layout, oci_layout_blobs, open, open_layers, tar_dir, Compression, LayerBlob, LayerBuilder,
    REPO_TAG,
};

/// One synthetic image: a name and its layers (plain tars, bottom first).
pub struct Case {
    /// The test's name.
    pub name: &'static str,
    /// The layers.
    pub layers: fn() -> Vec<Vec<u8>>,
}

/// Every overlay case, for the format-identity test and the umoci oracle.
pub const CASES: &[Case] = &[
    Case {
        name: "opaque_marker_after_siblings",
        layers: opaque_marker_after_siblings_layers,
    },
    Case {
        name: "whiteout_and_readd_in_same_layer",
        layers: whiteout_and_readd_in_same_layer_layers,
    },
    Case {
        name: "dir_whited_out_then_readded",
        layers: dir_whited_out_then_readded_layers,
    },
    Case {
        name: "file_dir_symlink_file",
        layers: file_dir_symlink_file_layers,
    },
    Case {
        name: "hardlink_target_whited_out",
        layers: hardlink_target_whited_out_layers,
    },
    Case {
        name: "dot_slash_prefixes",
        layers: dot_slash_prefixes_layers,
    },
    Case {
        name: "pax_and_gnu_long_names",
        layers: pax_and_gnu_long_names_layers,
    },
    Case {
        name: "symlinked_dir_mid_path",
        layers: symlinked_dir_mid_path_layers,
    },
    Case {
        name: "symlink_loop",
        layers: symlink_loop_layers,
    },
    Case {
        name: "symlink_climbs_with_dotdot",
        layers: symlink_climbs_with_dotdot_layers,
    },
    Case {
        name: "single_layer_whiteouts",
        layers: single_layer_whiteouts_layers,
    },
    Case {
        name: "empty_layer",
        layers: empty_layer_layers,
    },
    Case {
        name: "duplicate_entries_last_wins",
        layers: duplicate_entries_last_wins_layers,
    },
    Case {
        name: "special_files",
        layers: special_files_layers,
    },
    Case {
        name: "waste_accounting",
        layers: waste_layers,
    },
    Case {
        name: "dangling_symlink_mid_path",
        layers: dangling_symlink_mid_path_layers,
    },
];

const F: u32 = 0o644;
const D: u32 = 0o755;

fn opaque_marker_after_siblings_layers() -> Vec<Vec<u8>> {
    vec![
        LayerBuilder::new()
            .dir("d", D)
            .file("d/old", b"old", F)
            .dir("d/sub", D)
            .file("d/sub/deep", b"deep", F)
            .file("keep", b"keep", F)
            .build(),
        // Docker's `rm -rf d && mkdir d && …` layer, but with the marker
        // *after* a sibling: `d/new` precedes it and must survive.
        LayerBuilder::new()
            .dir("d", 0o750)
            .file("d/new", b"new", F)
            .opaque("d")
            .file("d/after", b"after", 0o600)
            .build(),
    ]
}

// Proves: the opaque marker hides only lower-layer children of `d`, wherever
// it stands in the tar; same-layer entries before it (`d/new`) survive, `d`
// itself stays with the upper layer's attributes, and siblings of `d` are
// untouched.
#[test]
fn opaque_marker_after_siblings() {
    let (_tmp, img) = open_layers(&opaque_marker_after_siblings_layers());
    assert_eq!(
        listing(&img),
        [
            "/d dir 0750 0 L1",
            "/d/after file 0600 5 L1 = \"after\"",
            "/d/new file 0644 3 L1 = \"new\"",
            "/keep file 0644 4 L0 = \"keep\"",
        ]
    );
}

fn whiteout_and_readd_in_same_layer_layers() -> Vec<Vec<u8>> {
    vec![
        LayerBuilder::new()
            .dir("b", D)
            .file("b/old", b"old", F)
            .file("c", b"c0", F)
            .dir("e", D)
            .file("e/x", b"x", F)
            .build(),
        LayerBuilder::new()
            // whiteout first, then the re-add (docker's order)
            .whiteout("b")
            .dir("b", 0o700)
            .file("b/new", b"new", F)
            // re-add first, then the whiteout
            .file("c", b"c1", F)
            .whiteout("c")
            // a directory re-added with new content, whiteout last
            .dir("e", D)
            .file("e/y", b"y", F)
            .whiteout("e")
            .build(),
    ]
}

// Proves: a whiteout deletes from the lower layers only, so what the same
// layer adds under that name stays, whether the whiteout comes before or
// after it in the tar (ggcr's `mutate.Extract` loses the new `b/…`).
#[test]
fn whiteout_and_readd_in_same_layer() {
    let (_tmp, img) = open_layers(&whiteout_and_readd_in_same_layer_layers());
    assert_eq!(
        listing(&img),
        [
            "/b dir 0700 0 L1",
            "/b/new file 0644 3 L1 = \"new\"",
            "/c file 0644 2 L1 = \"c1\"",
            "/e dir 0755 0 L1",
            "/e/y file 0644 1 L1 = \"y\"",
        ]
    );
}

fn dir_whited_out_then_readded_layers() -> Vec<Vec<u8>> {
    vec![
        LayerBuilder::new()
            .dir("opt", D)
            .dir("opt/app", D)
            .file("opt/app/a", b"aaaa", F)
            .file("opt/app/b", b"bb", F)
            .build(),
        LayerBuilder::new()
            .whiteout("opt/app")
            .file("opt/other", b"o", F)
            .build(),
        LayerBuilder::new()
            .dir("opt/app", 0o750)
            .file("opt/app/c", b"c", F)
            .build(),
    ]
}

// Proves: a directory whited out in one layer and re-created in a later one
// comes back empty but for the later layer's content (nothing of the old
// subtree resurfaces), and the whiteout is charged the bytes it hid.
#[test]
fn dir_whited_out_then_readded() {
    let (_tmp, img) = open_layers(&dir_whited_out_then_readded_layers());
    assert_eq!(
        listing(&img),
        [
            "/opt dir 0755 0 L0",
            "/opt/app dir 0750 0 L2",
            "/opt/app/c file 0644 1 L2 = \"c\"",
            "/opt/other file 0644 1 L1 = \"o\"",
        ]
    );
    assert_eq!(img.effects[1].removed_bytes, 6);
    assert_eq!(img.effects[1].removed_files, 2);
    assert_eq!(img.effects[2].removed_bytes, 0);
}

fn file_dir_symlink_file_layers() -> Vec<Vec<u8>> {
    vec![
        LayerBuilder::new().file("x", b"file0", 0o755).build(),
        LayerBuilder::new()
            .dir("x", D)
            .file("x/inner", b"inner", F)
            .build(),
        LayerBuilder::new().symlink("x", "x-target").build(),
        LayerBuilder::new().file("x", b"final", 0o600).build(),
    ]
}

// Proves: each change of type at one path replaces the whole previous
// object (a file replacing a directory takes its subtree with it), at every
// step, and the final layer's file is what remains.
#[test]
fn file_dir_symlink_file() {
    let layers = file_dir_symlink_file_layers();
    let expected: [&[&str]; 4] = [
        &["/x file 0755 5 L0 = \"file0\""],
        &["/x dir 0755 0 L1", "/x/inner file 0644 5 L1 = \"inner\""],
        &["/x symlink 0777 0 L2 -> x-target"],
        &["/x file 0600 5 L3 = \"final\""],
    ];
    for (n, want) in expected.iter().enumerate() {
        let (_tmp, img) = open_layers(&layers[..=n]);
        assert_eq!(listing(&img), *want, "after layer {n}");
    }
}

fn hardlink_target_whited_out_layers() -> Vec<Vec<u8>> {
    vec![
        LayerBuilder::new()
            .file("a", b"shared bytes", 0o640)
            .hardlink("b", "a")
            .file("p", b"one", F)
            .hardlink("q", "p")
            .build(),
        LayerBuilder::new()
            .whiteout("a")
            .file("p", b"two", F)
            // a hardlink to a path in a lower layer
            .hardlink("r", "q")
            .build(),
    ]
}

// Proves: a hardlink keeps its bytes (addressed by layer and offset, not by
// path) when its target path is whited out or replaced later, takes the
// target's mode, and can point into a lower layer.
#[test]
fn hardlink_target_whited_out() {
    let (_tmp, img) = open_layers(&hardlink_target_whited_out_layers());
    assert_eq!(
        listing(&img),
        [
            "/b file 0640 12 L0 = \"shared bytes\"",
            "/p file 0644 3 L1 = \"two\"",
            "/q file 0644 3 L0 = \"one\"",
            "/r file 0644 3 L1 = \"one\"",
        ]
    );
    // The whiteout and the replacement freed nothing: links still hold it.
    assert_eq!(img.effects[1].removed_bytes, 0);
}

fn dot_slash_prefixes_layers() -> Vec<Vec<u8>> {
    vec![
        LayerBuilder::new()
            .dir("./", D)
            .dir("./etc/", D)
            .file("./etc/hosts", b"127.0.0.1 localhost", F)
            .file("etc/plain", b"p", F)
            .dir("./usr", D)
            .symlink("./usr/link", "../etc/hosts")
            .build(),
        LayerBuilder::new()
            .whiteout("./etc/hosts")
            .file("./etc/new", b"n", F)
            .hardlink("./etc/plain2", "./etc/plain")
            .build(),
    ]
}

// Proves: `./`-prefixed names (GNU tar's default), unprefixed names and a
// `./` root entry all address the same paths, for entries, whiteouts and
// hardlink targets alike.
#[test]
fn dot_slash_prefixes() {
    let (_tmp, img) = open_layers(&dot_slash_prefixes_layers());
    assert_eq!(
        listing(&img),
        [
            "/etc dir 0755 0 L0",
            "/etc/new file 0644 1 L1 = \"n\"",
            "/etc/plain file 0644 1 L0 = \"p\"",
            "/etc/plain2 file 0644 1 L1 = \"p\"",
            "/usr dir 0755 0 L0",
            "/usr/link symlink 0777 0 L0 -> ../etc/hosts",
        ]
    );
}

/// `deep/ddd…` (95 bytes) and `deep/ddd…/eee…` (156 bytes).
fn long_dirs() -> (String, String) {
    let d1 = format!("deep/{}", "d".repeat(90));
    let d2 = format!("{d1}/{}", "e".repeat(60));
    (d1, d2)
}

fn pax_and_gnu_long_names_layers() -> Vec<Vec<u8>> {
    let (d1, d2) = long_dirs();
    let doomed = format!("{d2}/doomed-{}", "x".repeat(50));
    let doomed_wh = format!("{d2}/.wh.doomed-{}", "x".repeat(50));
    vec![
        LayerBuilder::new()
            .dir("deep", D)
            .pax_long(tar::EntryType::Directory, &d1, b"", D)
            .pax_long(tar::EntryType::Directory, &d2, b"", D)
            .pax_long(
                tar::EntryType::Regular,
                &format!("{d2}/pax-file-{}", "p".repeat(40)),
                b"pax",
                F,
            )
            .gnu_long(
                tar::EntryType::Regular,
                &format!("{d2}/gnu-file-{}", "g".repeat(40)),
                b"gnu",
                F,
            )
            .gnu_long(tar::EntryType::Regular, &doomed, b"doomed", F)
            .build(),
        // A whiteout whose name only fits in a PAX record.
        LayerBuilder::new()
            .pax_long(tar::EntryType::Regular, &doomed_wh, b"", F)
            .build(),
    ]
}

// Proves: names longer than 100 bytes are read from PAX `path` records and
// GNU `L` records (for files, directories and whiteouts), and the carrier
// entries (`././@LongLink`, the PAX header, the placeholder ustar name)
// never show up as files.
#[test]
fn pax_and_gnu_long_names() {
    let (d1, d2) = long_dirs();
    let (_tmp, img) = open_layers(&pax_and_gnu_long_names_layers());
    assert_eq!(
        listing(&img),
        [
            "/deep dir 0755 0 L0".to_string(),
            format!("/{d1} dir 0755 0 L0"),
            format!("/{d2} dir 0755 0 L0"),
            format!("/{d2}/gnu-file-{} file 0644 3 L0 = \"gnu\"", "g".repeat(40)),
            format!("/{d2}/pax-file-{} file 0644 3 L0 = \"pax\"", "p".repeat(40)),
        ]
    );
}

fn symlinked_dir_mid_path_layers() -> Vec<Vec<u8>> {
    vec![
        LayerBuilder::new()
            .dir("usr", D)
            .dir("usr/bin", D)
            .dir("usr/lib64", D)
            .symlink("bin", "usr/bin")
            .symlink("lib64", "/usr/lib64")
            .build(),
        LayerBuilder::new()
            .file("bin/x", b"x", 0o755)
            .file("lib64/ld.so", b"ld", 0o755)
            .dir("bin/sub", 0o700)
            .file("bin/sub/y", b"y", F)
            .build(),
    ]
}

// Proves: a later layer's `bin/x` lands in `/usr/bin/x` through the lower
// `/bin -> usr/bin` (relative) and `/lib64 -> /usr/lib64` (absolute,
// chroot-style) symlinks, which stay symlinks; and `stat` resolves through
// them to the canonical path.
#[test]
fn symlinked_dir_mid_path() {
    let (_tmp, img) = open_layers(&symlinked_dir_mid_path_layers());
    assert_eq!(
        listing(&img),
        [
            "/bin symlink 0777 0 L0 -> usr/bin",
            "/lib64 symlink 0777 0 L0 -> /usr/lib64",
            "/usr dir 0755 0 L0",
            "/usr/bin dir 0755 0 L0",
            "/usr/bin/sub dir 0700 0 L1",
            "/usr/bin/sub/y file 0644 1 L1 = \"y\"",
            "/usr/bin/x file 0755 1 L1 = \"x\"",
            "/usr/lib64 dir 0755 0 L0",
            "/usr/lib64/ld.so file 0755 2 L1 = \"ld\"",
        ]
    );
    let tree = &img.tree;
    assert_eq!(tree.stat("/bin/x").unwrap().path, "/usr/bin/x");
    assert_eq!(tree.stat("/bin/sub/y").unwrap().path, "/usr/bin/sub/y");
    assert_eq!(tree.stat("/lib64/ld.so").unwrap().path, "/usr/lib64/ld.so");
    assert_eq!(tree.read_path("/bin/x", None).unwrap(), b"x");
    let bin = tree.lstat("/bin").unwrap();
    assert_eq!(tree.node(bin.id).kind, Kind::Symlink);
    assert_eq!(tree.stat("/bin").unwrap().path, "/usr/bin");
}

fn dangling_symlink_mid_path_layers() -> Vec<Vec<u8>> {
    vec![
        LayerBuilder::new()
            .symlink("x", "nowhere")
            .symlink("abs", "/gone/deeper")
            .dir("a", D)
            .symlink("a/up", "../../../../made")
            .build(),
        LayerBuilder::new()
            .file("x/y", b"y", F)
            .file("abs/z", b"z", F)
            .file("a/up/f", b"f", F)
            .build(),
    ]
}

// Proves: an entry written through a *dangling* symlink in the middle of its
// path lands where the symlink points, creating the missing directories
// (mode 0755) inside the image root — `..` in the target stops at the root
// — and the symlink stays. This is what
// umoci (`securejoin.SecureJoinVFS` of the parent, then `MkdirAll`) and
// containerd (`fs.RootPath` + `mkparent` in `archive.Apply`) do; Docker's
// `UnpackLayer` fails on such a layer instead. Nobody replaces the symlink
// with a directory.
#[test]
fn dangling_symlink_mid_path() {
    let (_tmp, img) = open_layers(&dangling_symlink_mid_path_layers());
    assert_eq!(
        listing(&img),
        [
            "/a dir 0755 0 L0",
            "/a/up symlink 0777 0 L0 -> ../../../../made",
            "/abs symlink 0777 0 L0 -> /gone/deeper",
            "/gone dir 0755 0 L1",
            "/gone/deeper dir 0755 0 L1",
            "/gone/deeper/z file 0644 1 L1 = \"z\"",
            "/made dir 0755 0 L1",
            "/made/f file 0644 1 L1 = \"f\"",
            "/nowhere dir 0755 0 L1",
            "/nowhere/y file 0644 1 L1 = \"y\"",
            "/x symlink 0777 0 L0 -> nowhere",
        ]
    );
}

fn symlink_loop_layers() -> Vec<Vec<u8>> {
    vec![LayerBuilder::new()
        .dir("loop", D)
        .symlink("loop/a", "b")
        .symlink("loop/b", "a")
        .symlink("self", "self")
        .symlink("abs", "/abs")
        .build()]
}

// Proves: symlink loops (two-cycle, self, absolute self) are kept as
// symlinks, `lstat` sees them, and `stat` through them stops with a loop
// error instead of hanging — also when the loop is a middle component.
#[test]
fn symlink_loop() {
    let (_tmp, img) = open_layers(&symlink_loop_layers());
    assert_eq!(
        listing(&img),
        [
            "/abs symlink 0777 0 L0 -> /abs",
            "/loop dir 0755 0 L0",
            "/loop/a symlink 0777 0 L0 -> b",
            "/loop/b symlink 0777 0 L0 -> a",
            "/self symlink 0777 0 L0 -> self",
        ]
    );
    let tree = &img.tree;
    for p in ["/loop/a", "/loop/b", "/loop/a/x", "/self", "/abs", "/abs/y"] {
        match tree.stat(p) {
            Err(TreeError::Loop(_)) => {}
            other => panic!("stat({p}): expected a loop error, got {other:?}"),
        }
    }
    assert_eq!(tree.lstat("/loop/a").unwrap().path, "/loop/a");
}

fn symlink_climbs_with_dotdot_layers() -> Vec<Vec<u8>> {
    vec![
        LayerBuilder::new()
            .dir("etc", D)
            .file("etc/passwd", b"root:x:0:0", F)
            .dir("a", D)
            .symlink("a/link", "../../../../etc")
            .build(),
        // Written through the climbing symlink: must land in /etc.
        LayerBuilder::new()
            .file("a/link/shadow", b"s", 0o600)
            .build(),
    ]
}

// Proves: `..` in a symlink target stops at the image root (chroot-style),
// both when a lookup follows it and when a later layer writes through it:
// `/a/link -> ../../../../etc` is `/etc`, never the host's.
#[test]
fn symlink_climbs_with_dotdot() {
    let (_tmp, img) = open_layers(&symlink_climbs_with_dotdot_layers());
    assert_eq!(
        listing(&img),
        [
            "/a dir 0755 0 L0",
            "/a/link symlink 0777 0 L0 -> ../../../../etc",
            "/etc dir 0755 0 L0",
            "/etc/passwd file 0644 10 L0 = \"root:x:0:0\"",
            "/etc/shadow file 0600 1 L1 = \"s\"",
        ]
    );
    let tree = &img.tree;
    assert_eq!(tree.stat("/a/link").unwrap().path, "/etc");
    assert_eq!(
        tree.read_path("/a/link/passwd", None).unwrap(),
        b"root:x:0:0"
    );
    assert_eq!(
        tree.stat("/a/link/../../../../../etc/passwd").unwrap().path,
        "/etc/passwd"
    );
    assert_eq!(tree.stat("/../../etc/shadow").unwrap().path, "/etc/shadow");
}

fn single_layer_whiteouts_layers() -> Vec<Vec<u8>> {
    vec![LayerBuilder::new()
        .dir("etc", D)
        .file("etc/x", b"x", F)
        .whiteout("gone")
        .whiteout("etc/missing")
        .opaque("etc")
        .dir("var", D)
        .opaque("var")
        .whiteout("var/nothing")
        .build()]
}

// Proves: whiteouts and opaque markers in the bottom layer (nothing below to
// delete) neither leak into the result as `.wh.*` files nor remove the
// layer's own entries.
#[test]
fn single_layer_whiteouts() {
    let (_tmp, img) = open_layers(&single_layer_whiteouts_layers());
    assert_eq!(
        listing(&img),
        [
            "/etc dir 0755 0 L0",
            "/etc/x file 0644 1 L0 = \"x\"",
            "/var dir 0755 0 L0",
        ]
    );
    assert_eq!(img.effects[0].whiteouts, 5);
    assert_eq!(img.effects[0].removed_bytes, 0);
}

fn empty_layer_layers() -> Vec<Vec<u8>> {
    vec![
        LayerBuilder::new().file("a", b"a", F).build(),
        // Just the two zero blocks: what `docker build` writes for a
        // metadata-only step that still produced a layer.
        LayerBuilder::new().build(),
        LayerBuilder::new().file("b", b"b", F).build(),
    ]
}

// Proves: an empty layer is a valid layer: it counts (layer numbers after it
// shift), has no entries, and changes nothing.
#[test]
fn empty_layer() {
    let (_tmp, img) = open_layers(&empty_layer_layers());
    assert_eq!(
        listing(&img),
        ["/a file 0644 1 L0 = \"a\"", "/b file 0644 1 L2 = \"b\""]
    );
    assert_eq!(img.layers.len(), 3);
    assert_eq!(img.effects[1].entries, 0);
    assert_eq!(img.layers[1].index.entries.len(), 0);
}

fn duplicate_entries_last_wins_layers() -> Vec<Vec<u8>> {
    vec![LayerBuilder::new()
        .file("f", b"first", F)
        .file("f", b"second", 0o600)
        .dir("d", 0o700)
        .dir("d", D)
        .symlink("s", "nowhere")
        .file("s", b"now a file", F)
        .file("g", b"g", F)
        .dir("g", D)
        .file("g/inner", b"i", F)
        .build()]
}

// Proves: several entries for one path in one layer: the last one wins (its
// content, its mode, its type), and the overwritten bytes are charged to
// that layer as waste.
#[test]
fn duplicate_entries_last_wins() {
    let (_tmp, img) = open_layers(&duplicate_entries_last_wins_layers());
    assert_eq!(
        listing(&img),
        [
            "/d dir 0755 0 L0",
            "/f file 0600 6 L0 = \"second\"",
            "/g dir 0755 0 L0",
            "/g/inner file 0644 1 L0 = \"i\"",
            "/s file 0644 10 L0 = \"now a file\"",
        ]
    );
    assert_eq!(img.effects[0].removed_bytes, 6); // "first" + "g"
    assert_eq!(img.effects[0].removed_files, 2);
}

fn special_files_layers() -> Vec<Vec<u8>> {
    vec![LayerBuilder::new()
        .dir("dev", D)
        .device(tar::EntryType::Char, "dev/null", 1, 3, 0o666)
        .device(tar::EntryType::Block, "dev/loop0", 7, 0, 0o660)
        .dir("run", D)
        .fifo("run/fifo", 0o600)
        .build()]
}

// Proves: device nodes and fifos keep their type and mode, have no size and
// no content (`read` refuses them).
#[test]
fn special_files() {
    let (_tmp, img) = open_layers(&special_files_layers());
    assert_eq!(
        listing(&img),
        [
            "/dev dir 0755 0 L0",
            "/dev/loop0 block 0660 0 L0",
            "/dev/null char 0666 0 L0",
            "/run dir 0755 0 L0",
            "/run/fifo fifo 0600 0 L0",
        ]
    );
    let null = img.tree.lstat("/dev/null").unwrap();
    assert!(matches!(
        img.tree.read(null.id, None),
        Err(TreeError::NotAFile(_))
    ));
}

fn waste_layers() -> Vec<Vec<u8>> {
    vec![
        LayerBuilder::new()
            .file("big", &[b'x'; 100], F)
            .dir("data", D)
            .file("data/a", b"aaa", F)
            .file("data/b", b"bbbb", F)
            .dir("data/sub", D)
            .file("data/sub/c", b"ccccc", F)
            .dir("cache", D)
            .file("cache/a", b"1234567", F)
            .file("cache/b", b"12345678", F)
            .file("linked", b"0123456789", F)
            .hardlink("linked2", "linked")
            .hardlink("linked3", "linked")
            .build(),
        LayerBuilder::new()
            .file("big", &[b'y'; 10], F)
            .whiteout("data")
            .dir("cache", D)
            .opaque("cache")
            .file("cache/new", b"nn", F)
            .whiteout("linked")
            .whiteout("linked2")
            .build(),
        LayerBuilder::new().whiteout("linked3").build(),
    ]
}

// Proves: each layer is charged exactly the bytes it made unreachable: an
// overwritten file (100), a whited-out populated directory (3+4+5), an
// opaque directory (7+8); a file with three hardlinks is added once and
// freed once, by the layer that drops its last link (10, in layer 2, not
// layer 1). The totals balance: added − removed = bytes in the result.
#[test]
fn waste_accounting() {
    let (_tmp, img) = open_layers(&waste_layers());
    assert_eq!(
        listing(&img),
        [
            "/big file 0644 10 L1 = \"yyyyyyyyyy\"",
            "/cache dir 0755 0 L1",
            "/cache/new file 0644 2 L1 = \"nn\"",
        ]
    );
    let e = &img.effects;
    // Layer 0: hardlinks are not added twice.
    assert_eq!((e[0].added_files, e[0].added_bytes), (7, 137));
    assert_eq!(e[0].removed_bytes, 0);
    // Layer 1: one removal per cause.
    let mut removals: Vec<(String, Cause, u64, u64)> = e[1]
        .removals
        .iter()
        .map(|r| (r.path.clone(), r.cause, r.bytes, r.files))
        .collect();
    removals.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        removals,
        [
            ("/big".to_string(), Cause::Replaced, 100, 1),
            ("/cache".to_string(), Cause::Opaque, 15, 2),
            ("/data".to_string(), Cause::Whiteout, 12, 3),
            // The link count drops from 3 to 1: nothing is freed yet.
            ("/linked".to_string(), Cause::Whiteout, 0, 0),
            ("/linked2".to_string(), Cause::Whiteout, 0, 0),
        ]
    );
    assert_eq!((e[1].removed_bytes, e[1].removed_files), (127, 6));
    assert_eq!(e[1].whiteouts, 4);
    // Layer 2 drops the last link.
    assert_eq!((e[2].removed_bytes, e[2].removed_files), (10, 1));
    let added: u64 = e.iter().map(|x| x.added_bytes).sum();
    let removed: u64 = e.iter().map(|x| x.removed_bytes).sum();
    assert_eq!(added - removed, 12);
}

// Proves: every input format and layer compression is the same image: OCI
// layout dirs with plain, gzip and zstd layers, an oci-archive (the gzip
// layout in a tar), a legacy docker-archive, and both tarballs piped through
// stdin (`files -`, manifest last) print byte-identical `files --format
// jsonl`, for every overlay case.
#[test]
fn formats_and_compressions_agree() {
    for case in CASES {
        let layers = (case.layers)();
        let tmp = tempfile::tempdir().unwrap();
        let p = |n: &str| tmp.path().join(n).display().to_string();
        let mut runs: Vec<(String, String)> = Vec::new();
        for (name, c) in [
            ("oci-plain", Compression::None),
            ("oci-gzip", Compression::Gzip),
            ("oci-zstd", Compression::Zstd),
        ] {
            let l = oci_layout(&tmp.path().join(name), &layers, c, json!({}));
            runs.push((
                name.into(),
                files_jsonl(&l.root.display().to_string(), &[], None),
            ));
        }
        let archive = tar_dir(&tmp.path().join("oci-gzip"), &tmp.path().join("oci.tar"));
        let archive_bytes = std::fs::read(&archive).unwrap();
        runs.push(("oci-archive".into(), files_jsonl(&p("oci.tar"), &[], None)));
        runs.push((
            "oci-archive on stdin".into(),
            files_jsonl("-", &[], Some(&archive_bytes)),
        ));
        docker_archive(&tmp.path().join("docker.tar"), &layers);
        runs.push((
            "docker-archive".into(),
            files_jsonl(&p("docker.tar"), &[], None),
        ));
        runs.push((
            "docker-archive:tag".into(),
            files_jsonl(&format!("{}:{REPO_TAG}", p("docker.tar")), &[], None),
        ));
        let docker_bytes = docker_archive_bytes(&[(REPO_TAG, layers.clone())]);
        runs.push((
            "docker-archive on stdin".into(),
            files_jsonl("-", &[], Some(&docker_bytes)),
        ));
        let (first_name, first) = &runs[0];
        assert!(!first.is_empty(), "{}: empty output", case.name);
        for (name, out) in &runs[1..] {
            assert_eq!(
                out, first,
                "{}: `{name}` differs from `{first_name}`",
                case.name
            );
        }
        // And the library agrees with the CLI on the paths.
        let img = open(std::path::Path::new(&p("oci-plain")));
        let lib_paths: Vec<String> = listing(&img)
            .iter()
            .map(|l| l.split(' ').next().unwrap().to_string())
            .collect();
        let cli_paths: Vec<String> = crate::util::parse_jsonl(first)
            .iter()
            .map(|v| v["path"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(lib_paths, cli_paths, "{}", case.name);
    }
}

// Proves: the magic bytes decide a layer's compression, not its media type:
// an uncompressed layer labelled `…tar+gzip` (what skopeo 1.9 writes with
// `--dest-oci-accept-uncompressed-layers`), a gzip layer labelled `…tar` and
// a zstd layer labelled `…tar+gzip` give the same image as honest labels.
#[test]
fn media_type_mislabels_are_sniffed() {
    let mut layers = symlinked_dir_mid_path_layers();
    layers.push(LayerBuilder::new().file("z", b"zstd", F).build());
    let tmp = tempfile::tempdir().unwrap();
    let honest = oci_layout(
        &tmp.path().join("honest"),
        &layers,
        Compression::Gzip,
        json!({}),
    );
    let lie = |data: Vec<u8>, label: Compression, tar: &[u8]| LayerBlob {
        data,
        media_type: layer_media_type(label).to_string(),
        diff_id: digest(tar),
    };
    let mislabeled = oci_layout_blobs(
        &tmp.path().join("mislabeled"),
        &[
            lie(layers[0].clone(), Compression::Gzip, &layers[0]),
            lie(
                compress(&layers[1], Compression::Gzip),
                Compression::None,
                &layers[1],
            ),
            lie(
                compress(&layers[2], Compression::Zstd),
                Compression::Gzip,
                &layers[2],
            ),
        ],
        json!({}),
    );
    let want = files_jsonl(&honest.root.display().to_string(), &[], None);
    let got = files_jsonl(&mislabeled.root.display().to_string(), &[], None);
    assert_eq!(got, want);
    assert!(want.contains("\"/usr/bin/x\"") && want.contains("\"/z\""));
}
