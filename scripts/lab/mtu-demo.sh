#!/usr/bin/env bash
# Full-size customer frames across an 802.1ad trunk (issue 18 item 2, the MTU note in the
# README). Run: scripts/run-in-vm scripts/lab/mtu-demo.sh. sw1 - sw2, one EPL (VLAN 10) a - b.
# Shows: a C-tagged frame with a 1500-byte payload (1518 bytes) crosses with every MTU at
# 1500 (veth allows one tag past its MTU, and the S-tag is metadata, not payload); C over C
# (1522 bytes) needs MTU 1504 on the trunk too (with 1500 it is lost).
set -uo pipefail
export P=swbmtu
NS=(sw1 sw2 a b)
cleanup() { for n in "${NS[@]}"; do ip netns del "$P-$n" 2>/dev/null || true; done; }
trap cleanup EXIT
cleanup
set -e
x() { local n=$1; shift; ip netns exec "$P-$n" "$@"; }
for n in "${NS[@]}"; do ip netns add "$P-$n"; ip -n "$P-$n" link set lo up; done
for s in sw1 sw2; do x $s ip link add br0 type bridge vlan_filtering 1 vlan_default_pvid 0 vlan_protocol 802.1ad; x $s ip link set br0 up; done
ip link add t12 netns "$P-sw1" type veth peer name t21 netns "$P-sw2"
ip link add eth0 netns "$P-a" address 02:5e:00:00:00:0a type veth peer name pa netns "$P-sw1"; x a ip link set eth0 up
ip link add eth0 netns "$P-b" address 02:5e:00:00:00:0b type veth peer name pb netns "$P-sw2"; x b ip link set eth0 up
port() { x $1 ip link set $2 master br0; x $1 bridge link set dev $2 learning off flood off mcast_flood off; x $1 ip link set $2 up; }
port sw1 t12; port sw2 t21; x sw1 bridge vlan add dev t12 vid 10; x sw2 bridge vlan add dev t21 vid 10
port sw1 pa; port sw2 pb; x sw1 bridge vlan add dev pa vid 10 pvid untagged; x sw2 bridge vlan add dev pb vid 10 pvid untagged
x sw1 bridge fdb add 02:5e:00:00:00:0b dev t12 master static vlan 10; x sw2 bridge fdb add 02:5e:00:00:00:0b dev pb master static vlan 10
sleep 2
set +e
rc=0
echo "--- frames of 1514 bytes (without FCS), every MTU 1500"
SIZE=1514 python3 scripts/lab/frames.py a b <<C || rc=1
a b - => b:-
a b 8100/100/3 => b:8100/100/3
a b 8100/100/3,8100/200/1 => b:8100/100/3,8100/200/1
C
echo "--- 1518 bytes, C-tagged (1500-byte payload), every MTU 1500"
SIZE=1518 python3 scripts/lab/frames.py a b <<C || rc=1
a b 8100/100/3 => b:8100/100/3
C
echo "--- 1522 bytes, C over C (1500-byte payload); customer NICs and access ports MTU 1504, trunk 1500: lost"
for d in "a eth0" "b eth0" "sw1 pa" "sw2 pb"; do x ${d% *} ip link set ${d#* } mtu 1504; done
SIZE=1522 python3 scripts/lab/frames.py a b <<C || rc=1
a b 8100/100/3,8100/200/1 => none
C
echo "--- the same with trunk MTU 1504"
x sw1 ip link set t12 mtu 1504; x sw2 ip link set t21 mtu 1504
SIZE=1522 python3 scripts/lab/frames.py a b <<C || rc=1
a b 8100/100/3,8100/200/1 => b:8100/100/3,8100/200/1
C
[ $rc -eq 0 ] && echo "MTU DEMO: ALL CHECKS PASSED"
exit $rc
