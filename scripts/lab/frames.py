#!/usr/bin/env python3
"""Raw-frame checker for the hand-made QinQ proof (scripts/lab/qinq-demo.sh).

One process: it opens an AF_PACKET socket in each named namespace (a socket stays in the
namespace it was made in), then runs checks read from stdin, one per line:

    SENDER DST TAGS => RECEIVER:TAGS RECEIVER:TAGS ...     (or `=> none`)

DST is a MAC or `bcast`; TAGS is `-` (untagged) or `TPID/VID/PCP,...` outermost first
(e.g. `8100/100/5`). Each frame carries a unique id (ethertype 0x88b5) and the check passes
when exactly the listed receivers get it, each with exactly those tags, as seen on the wire
(the outer tag, which the kernel moves to metadata, is read back from PACKET_AUXDATA).
`tap NS:IFACE` lines open extra listeners (trunk captures) that are reported, not checked.
SIZE=N in the environment pads every frame to N bytes (without FCS).
"""
import ctypes, os, socket, struct, sys, time, select

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
SOL_PACKET, PACKET_AUXDATA = 263, 8
ETH_P_ALL = 3
TP_STATUS_VLAN_VALID, TP_STATUS_VLAN_TPID_VALID = 0x10, 0x40
SIZE = int(os.environ.get("SIZE", "0"))
PREFIX = os.environ.get("P", "swbqinq")

own = os.open("/proc/self/ns/net", os.O_RDONLY)
macs = {}

def sock_in(ns, iface):
    fd = os.open(f"/run/netns/{PREFIX}-{ns}", os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), f"setns {ns}")
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    s.bind((iface, 0))
    macs[ns] = s.getsockname()[4].hex(":")
    os.close(fd)
    libc.setns(own, CLONE_NEWNET)
    s.setblocking(False)
    return s

def tags_text(tags):
    return ",".join(f"{t:04x}/{v}/{p}" for t, v, p in tags) or "-"

def parse_tags(text):
    if text == "-":
        return []
    return [tuple(int(x, 16) if i == 0 else int(x) for i, x in enumerate(t.split("/"))) for t in text.split(",")]

def frame(dst, src, tags, ident):
    b = bytes.fromhex(dst.replace(":", "")) + bytes.fromhex(src.replace(":", ""))
    for tpid, vid, pcp in tags:
        b += struct.pack("!HH", tpid, (pcp << 13) | vid)
    body = b + struct.pack("!H", 0x88B5) + ident.encode()
    return body.ljust(max(SIZE, len(body) + 1, 60), b"\0")

def read(s):
    """Every frame queued on s: (tags on the wire, id) for our ethertype."""
    out = []
    while True:
        try:
            data, anc, _, addr = s.recvmsg(4096, socket.CMSG_SPACE(32))
        except BlockingIOError:
            return out
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        tags = []
        for lvl, typ, d in anc:
            if lvl == SOL_PACKET and typ == PACKET_AUXDATA and len(d) >= 20:
                status, _, _, _, _, tci, tpid = struct.unpack("IIIHHHH", d[:20])
                if status & TP_STATUS_VLAN_VALID:
                    tpid = tpid if status & TP_STATUS_VLAN_TPID_VALID else 0x8100
                    tags.append((tpid, tci & 0xFFF, tci >> 13))
        at = 12
        while at + 4 <= len(data) and struct.unpack("!H", data[at:at + 2])[0] in (0x8100, 0x88A8):
            tpid, tci = struct.unpack("!HH", data[at:at + 4])
            tags.append((tpid, tci & 0xFFF, tci >> 13))
            at += 4
        if data[at:at + 2] == b"\x88\xb5":
            out.append((tuple(tags), data[at + 2:at + 48].rstrip(b"\0").decode()))
    return out

def main():
    sites = sys.argv[1:]
    socks = {ns: sock_in(ns, "eth0") for ns in sites}
    taps = {}
    lines = [l.strip() for l in sys.stdin if l.strip() and not l.startswith("#")]
    for l in lines:
        if l.startswith("tap "):
            ns, iface = l.split()[1].split(":")
            taps[f"{ns}:{iface}"] = sock_in(ns, iface)
    failures = 0
    for n, l in enumerate(x for x in lines if not x.startswith("tap ")):
        left, right = l.split("=>")
        sender, dst, tags = left.split()
        want = set()
        if right.strip() != "none":
            for r in right.split():
                ns, t = r.split(":", 1)
                want.add((ns, tuple(parse_tags(t))))
        ident = f"c{n}"
        for s in list(socks.values()) + list(taps.values()):
            read(s)
        dmac = "ff:ff:ff:ff:ff:ff" if dst == "bcast" else macs.get(dst, dst)
        socks[sender].send(frame(dmac, macs[sender], parse_tags(tags), ident))
        time.sleep(0.3)
        got = set()
        for ns, s in socks.items():
            for t, i in read(s):
                if i == ident:
                    got.add((ns, t))
        seen = []
        for name, s in taps.items():
            for t, i in read(s):
                if i == ident:
                    seen.append(f"{name}={tags_text(t)}")
        ok = got == want
        failures += not ok
        fmt = lambda xs: " ".join(sorted(f"{ns}:{tags_text(t)}" for ns, t in xs)) or "none"
        print(f"{'ok  ' if ok else 'FAIL'} {sender} -> {dst} [{tags_text(parse_tags(tags))}]: got {fmt(got)}"
              + ("" if ok else f" want {fmt(want)}") + (f"  (taps: {' '.join(seen)})" if seen else ""))
    print(f"{failures} failure(s)")
    sys.exit(1 if failures else 0)

main()
