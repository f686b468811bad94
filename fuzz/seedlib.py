"""What the seed scripts share: small ELF files as the loader sees them.
Imported by make-seeds.py and make-audit-seeds.py."""
import struct


def elf(c64=True, le=True, machine=62, etype=3, interp=None, needed=(), soname=None,
        rpath=None, runpath=None, patchelf=False, dynamic=True):
    e = "<" if le else ">"
    ehsize, phsz, dynent = (64, 56, 16) if c64 else (52, 32, 8)
    strs, offs = b"\0", {}
    for s in [*needed, soname, rpath, runpath]:
        if s and s not in offs:
            offs[s] = len(strs)
            strs += s.encode() + b"\0"
    dyn = [(1, offs[n]) for n in needed]
    dyn += [(t, offs[s]) for t, s in ((14, soname), (15, rpath), (29, runpath)) if s]
    nph = 1 + (1 if interp else 0) + (1 if patchelf else 0) + (1 if dynamic else 0)
    pos = ehsize + nph * phsz
    interp_b = interp.encode() + b"\0" if interp else b""
    interp_off = pos
    pos += len(interp_b)
    ndyn = len(dyn) + 3
    if not patchelf:
        str_off = pos
        pos = (pos + len(strs) + 7) & ~7
        dyn_off = pos
        pos += ndyn * dynent
        load1 = pos
    else:
        pos = (pos + 7) & ~7
        dyn_off = pos
        pos += ndyn * dynent
        load1 = pos
        pos += 40  # other sections between
        str_off = pos
        pos += len(strs)
    second = 0x100000  # patchelf maps the appended strings at a new address
    strtab = str_off + (second if patchelf else 0)
    dyn += [(5, strtab), (10, len(strs)), (0, 0)]
    out = bytearray(pos)
    ident = b"\x7fELF" + bytes([2 if c64 else 1, 1 if le else 2, 1, 0]) + b"\0" * 8
    hdr = (etype, machine, 1, 0, ehsize, 0, 0, ehsize, phsz, nph, 64 if c64 else 40, 0, 0)
    out[:ehsize] = ident + struct.pack(e + ("HHIQQQIHHHHHH" if c64 else "HHIIIIIHHHHHH"), *hdr)
    ph = []
    if interp:
        ph.append((3, 4, interp_off, interp_off, len(interp_b), 4))
    ph.append((1, 5, 0, 0, load1, 4096))
    if patchelf:
        ph.append((1, 4, str_off, str_off + second, len(strs), 4096))
    if dynamic:
        ph.append((2, 6, dyn_off, dyn_off, ndyn * dynent, 8))
    at = ehsize
    for typ, flags, off, vaddr, size, align in ph:
        if c64:
            b = struct.pack(e + "IIQQQQQQ", typ, flags, off, vaddr, vaddr, size, size, align)
        else:
            b = struct.pack(e + "IIIIIIII", typ, off, vaddr, vaddr, size, size, flags, align)
        out[at:at + phsz] = b
        at += phsz
    out[interp_off:interp_off + len(interp_b)] = interp_b
    out[str_off:str_off + len(strs)] = strs
    if dynamic:
        for i, (tag, val) in enumerate(dyn):
            out[dyn_off + i * dynent:dyn_off + (i + 1) * dynent] = struct.pack(
                e + ("qQ" if c64 else "iI"), tag, val)
    return bytes(out)
