//! entry_points.txt (INI sections of `name = module:attr [extras]`).
#![no_main]

use imgaudit::python::entry_points::EntryPoints;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let eps = EntryPoints::parse(data);
    let _ = eps.console_scripts().len() + eps.gui_scripts().len();
    if let Some(first) = eps.console_scripts().first() {
        let _ = eps.script(&first.name);
    }
});
