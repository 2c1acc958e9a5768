#!/usr/bin/env bash
# A hand-made feasibility proof for issue 18 item 4 (class of service as the PCP of the
# outer tag on trunks), not yet product code. Run: scripts/run-in-vm scripts/lab/pcp-demo.sh
#
# sw1 - sw2, 802.1ad bridges as in qinq-demo.sh. Two EP-LANs: V=10 (a on sw1, b on sw2) of a
# class mapped to PCP 5, and V=20 (c, d) of the default class (PCP 0). The bridge pushes
# S-tags with PCP 0; a flower filter per (trunk, VLAN) on the trunk's egress rewrites the
# priority: `flower vlan_id V action vlan modify id V priority P protocol 802.1ad`
# (without `protocol 802.1ad` the action rewrites the TPID to 802.1Q: seen, the frame is lost). The far switch takes the
# S-tag off at the member port, so only the trunk sees it; the customer's C-tag is untouched.
set -uo pipefail
export P=swbpcp
NS=(sw1 sw2 a b c d)
cleanup() { for n in "${NS[@]}"; do ip netns del "$P-$n" 2>/dev/null || true; done; }
trap cleanup EXIT
cleanup
set -e
x() { local n=$1; shift; ip netns exec "$P-$n" "$@"; }
for n in "${NS[@]}"; do
  ip netns add "$P-$n"; ip -n "$P-$n" link set lo up
  x $n sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 2>/dev/null || true
done
for s in sw1 sw2; do
  x $s ip link add br0 type bridge vlan_filtering 1 vlan_default_pvid 0 vlan_protocol 802.1ad
  x $s ip link set br0 up
done
ip link add t12 netns "$P-sw1" type veth peer name t21 netns "$P-sw2"
site_link() { ip link add eth0 netns "$P-$1" address "$3" type veth peer name "p$1" netns "$P-$2"; x $1 ip link set eth0 up; }
site_link a sw1 02:5d:00:00:00:0a; site_link c sw1 02:5d:00:00:00:0c
site_link b sw2 02:5d:00:00:00:0b; site_link d sw2 02:5d:00:00:00:0d
port() { x $1 ip link set $2 master br0; x $1 bridge link set dev $2 learning off flood off mcast_flood off; x $1 ip link set $2 up; }
for s in "sw1 t12" "sw2 t21"; do port $s; for v in 10 20; do x ${s% *} bridge vlan add dev ${s#* } vid $v; done; done
for s in "sw1 pa 10" "sw2 pb 10" "sw1 pc 20" "sw2 pd 20"; do set -- $s; port $1 $2; x $1 bridge vlan add dev $2 vid $3 pvid untagged; done
x sw1 bridge fdb add 02:5d:00:00:00:0b dev t12 master static vlan 10; x sw1 bridge fdb add 02:5d:00:00:00:0a dev pa master static vlan 10
x sw2 bridge fdb add 02:5d:00:00:00:0a dev t21 master static vlan 10; x sw2 bridge fdb add 02:5d:00:00:00:0b dev pb master static vlan 10
x sw1 bridge fdb add 02:5d:00:00:00:0d dev t12 master static vlan 20; x sw2 bridge fdb add 02:5d:00:00:00:0d dev pd master static vlan 20
# Class of V=10 -> PCP 5, on both trunk ends' egress.
for s in "sw1 t12" "sw2 t21"; do
  x ${s% *} tc qdisc add dev ${s#* } clsact
  x ${s% *} tc filter add dev ${s#* } egress protocol 802.1ad pref 3 handle 10 flower vlan_id 10 action vlan modify id 10 priority 5 protocol 802.1ad
done
echo "kernel $(uname -r)"
sleep 2
set +e
Q=8100 S=88a8
python3 scripts/lab/frames.py a b c d <<CHECKS
tap sw2:t21
tap sw1:t12
# The trunk taps show the S-tag's priority: 5 for V=10 in both directions, 0 for V=20.
a b $Q/100/3 => b:$Q/100/3
a b - => b:-
b a $Q/4094/1 => a:$Q/4094/1
c d $Q/100/3 => d:$Q/100/3
CHECKS
rc=$?
x sw1 tc -s filter show dev t12 egress | grep -E 'pref|Sent' | head -4
[ $rc -eq 0 ] && echo "PCP DEMO: ALL CHECKS PASSED (read the taps: 88a8/10/5 and 88a8/20/0)"
exit $rc
