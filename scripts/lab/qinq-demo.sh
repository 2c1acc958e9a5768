#!/usr/bin/env bash
# The hand-made proof of issue 18 items 2 and 3: customer tag transparency with 802.1ad
# bridges, and E-Tree leaf isolation under it. Run: scripts/run-in-vm scripts/lab/qinq-demo.sh
#
# sw1 - sw2, each a vlan_filtering bridge with vlan_protocol 802.1ad (the channel VLAN is
# an S-tag on the trunk; a customer's 802.1Q tag is payload).
# EP-LAN V=10:   a (sw1, port mode), b (sw2, port mode), t (sw2, TAGGED, customer tag 700)
# E-Tree R=20 L=21: r root (sw1, port), l1 leaf (sw1, port), l2, l3 leaves (sw2, port),
#                   t leaf (sw2, TAGGED, customer tag 800, same port as t's EP-LAN member)
# Every member port: clsact + ingress drop of 802.1ad frames; leaves also egress drop of
# 802.1ad frames (L leaves a leaf port S-tagged and dies there; R leaves untagged).
set -uo pipefail
export P=swbqinq
NS=(sw1 sw2 a b t r l1 l2 l3)
V=10 R=20 L=21 CT=700 CL=800
cleanup() { for n in "${NS[@]}"; do ip netns del "$P-$n" 2>/dev/null || true; done; }
trap cleanup EXIT
cleanup
set -e
x() { local n=$1; shift; ip netns exec "$P-$n" "$@"; }
for n in "${NS[@]}"; do
  ip netns add "$P-$n"; ip -n "$P-$n" link set lo up
  x $n sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 2>/dev/null || true
done
M_a=02:5c:00:00:00:0a M_b=02:5c:00:00:00:0b M_t=02:5c:00:00:00:07
M_r=02:5c:00:00:00:01 M_l1=02:5c:00:00:00:11 M_l2=02:5c:00:00:00:12 M_l3=02:5c:00:00:00:13
for s in sw1 sw2; do
  x $s ip link add br0 type bridge vlan_filtering 1 vlan_default_pvid 0 vlan_protocol 802.1ad
  x $s ip link set br0 up
done
ip link add t12 netns "$P-sw1" type veth peer name t21 netns "$P-sw2"
site_link() { ip link add eth0 netns "$P-$1" address "$3" type veth peer name "p$1" netns "$P-$2"; x $1 ip link set eth0 up; }
site_link a sw1 $M_a; site_link r sw1 $M_r; site_link l1 sw1 $M_l1
site_link b sw2 $M_b; site_link t sw2 $M_t; site_link l2 sw2 $M_l2; site_link l3 sw2 $M_l3
x sw2 ip link set pt up
x sw2 ip link add link pt name pt.$CT type vlan id $CT
x sw2 ip link add link pt name pt.$CL type vlan id $CL
port() {
  x $1 ip link set $2 master br0
  x $1 bridge link set dev $2 learning off flood off mcast_flood off
  x $1 ip link set $2 up
}
drop() { x $1 tc filter add dev $2 $3 protocol 802.1ad pref 1 matchall action drop; }
member() { port $1 $2; x $1 tc qdisc add dev $2 clsact; drop $1 $2 ingress; }
for s in "sw1 t12" "sw2 t21"; do port $s; for v in $V $R $L; do x ${s% *} bridge vlan add dev ${s#* } vid $v; done; done
for s in "sw1 pa" "sw2 pb" "sw2 pt.$CT"; do member $s; x ${s% *} bridge vlan add dev ${s#* } vid $V pvid untagged; done
member sw1 pr; x sw1 bridge vlan add dev pr vid $R pvid untagged; x sw1 bridge vlan add dev pr vid $L untagged
for s in "sw1 pl1" "sw2 pl2" "sw2 pl3" "sw2 pt.$CL"; do
  member $s; drop $s egress
  x ${s% *} bridge vlan add dev ${s#* } vid $L pvid; x ${s% *} bridge vlan add dev ${s#* } vid $R untagged
done
fdb() { x $1 bridge fdb add $2 dev $3 master static vlan $4; }
# EP-LAN
fdb sw1 $M_a pa $V; fdb sw1 $M_b t12 $V; fdb sw1 $M_t t12 $V
fdb sw2 $M_a t21 $V; fdb sw2 $M_b pb $V; fdb sw2 $M_t pt.$CT $V
# E-Tree: every member in R, the root in L
fdb sw1 $M_r pr $R; fdb sw1 $M_l1 pl1 $R; fdb sw1 $M_l2 t12 $R; fdb sw1 $M_l3 t12 $R; fdb sw1 $M_t t12 $R
fdb sw2 $M_r t21 $R; fdb sw2 $M_l1 t21 $R; fdb sw2 $M_l2 pl2 $R; fdb sw2 $M_l3 pl3 $R; fdb sw2 $M_t pt.$CL $R
fdb sw1 $M_r pr $L; fdb sw2 $M_r t21 $L
echo "kernel $(uname -r); sw1 br0: $(x sw1 ip -d link show br0 | grep -o 'vlan_protocol [^ ]*')"
sleep 2
set +e
Q=8100 S=88a8
python3 scripts/lab/frames.py a b t r l1 l2 l3 <<CHECKS
tap sw1:t12
# EP-LAN: untagged stays untagged, C-tags (VID, PCP) preserved, incl. VID 1 and 4094
a bcast - => b:- t:$Q/$CT/0
a b - => b:-
a bcast $Q/1/5 => b:$Q/1/5 t:$Q/$CT/0,$Q/1/5
a b $Q/4094/3 => b:$Q/4094/3
a b $Q/100/7 => b:$Q/100/7
b a $Q/1/0 => a:$Q/1/0
b bcast $Q/4094/6 => a:$Q/4094/6 t:$Q/$CT/0,$Q/4094/6
# priority-tagged (VID 0) and double-tagged (C over C) customer frames: carried as they are
a b $Q/0/4 => b:$Q/0/4
a b $Q/100/2,$Q/200/1 => b:$Q/100/2,$Q/200/1
# an S-tagged (802.1ad) customer frame is discarded, whatever its VID
a b $S/$V/0 => none
a bcast $S/$V/0,$Q/5/0 => none
a b $S/99/0 => none
# tagged member: its tag is stripped/pushed; what is under it is the service frame
t a $Q/$CT/3 => a:-
t bcast $Q/$CT/0,$Q/55/5 => a:$Q/55/5 b:$Q/55/5
t a $Q/$CT/0,$S/$V/0 => none
t a $Q/999/0 => none
# E-Tree: root reaches every leaf, tags preserved
r bcast - => l1:- l2:- l3:- t:$Q/$CL/0
r bcast $Q/42/5 => l1:$Q/42/5 l2:$Q/42/5 l3:$Q/42/5 t:$Q/$CL/0,$Q/42/5
r l2 $Q/4094/1 => l2:$Q/4094/1
r t - => t:$Q/$CL/0
# leaves reach the root only, tagged or not
l1 bcast - => r:-
l1 r $Q/1/7 => r:$Q/1/7
l2 bcast $Q/42/2 => r:$Q/42/2
t r $Q/$CL/0,$Q/9/3 => r:$Q/9/3
t bcast $Q/$CL/0 => r:-
# leaf to leaf: never, same switch or across, unicast or broadcast, tagged or not
l2 l3 - => none
l2 l3 $Q/42/0 => none
l1 l2 - => none
l1 l2 $Q/42/0 => none
l3 l1 $Q/4094/0 => none
t l2 $Q/$CL/0 => none
l2 t - => none
# leaves that S-tag their frames (with R, with L, with anything) reach no one
l1 l2 $S/$R/0 => none
l1 bcast $S/$R/0 => none
l2 bcast $S/$L/0 => none
l2 l3 $S/$R/0,$Q/42/0 => none
t l2 $Q/$CL/0,$S/$R/0 => none
# nothing crosses between the E-Tree and the EP-LAN
a bcast $Q/$R/0 => b:$Q/$R/0 t:$Q/$CT/0,$Q/$R/0
l1 bcast $Q/$V/0 => r:$Q/$V/0
CHECKS
rc=$?
echo "--- tc counters on sw2 pl3 (egress drops of L frames):"
x sw2 tc -s filter show dev pl3 egress | grep -E 'Sent|pref' | head -4
echo "--- negative controls: each check below shows the failure the scheme's part prevents"
# The old drops (802.1Q) on leaf ports: L leaves a leaf S-tagged and passes, so a leaf's
# broadcast reaches the other leaf on the switch; a customer's C-tagged frame dies.
for d in ingress egress; do x sw2 tc filter del dev pl3 $d pref 1; x sw2 tc filter add dev pl3 $d protocol 802.1Q pref 1 matchall action drop; done
# No 802.1ad ingress drop on a port-mode member: an S-tagged frame with the channel's VID
# is taken as the channel's own and reaches b with its tag stripped.
x sw1 tc filter del dev pa ingress pref 1
python3 scripts/lab/frames.py a b t r l1 l2 l3 <<NEG
l2 bcast - => r:- l3:$S/$L/0
l3 r $Q/42/0 => none
a b $S/$V/0 => b:-
NEG
rc=$((rc | $?))
[ $rc -eq 0 ] && echo "QINQ DEMO: ALL CHECKS PASSED"
exit $rc
