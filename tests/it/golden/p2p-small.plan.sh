# switchboard plan for topology p2p-small: 29 change(s)
# switch sw1 (driver linux, netns p2p-small-sw1, bridge br0): 11 to add, 0 to remove
ip -n p2p-small-sw1 link set dev br0 type bridge vlan_protocol 802.1ad mcast_snooping 0
ip -n p2p-small-sw1 link set dev ca master br0
ip -n p2p-small-sw1 link set dev ca up
bridge -n p2p-small-sw1 link set dev ca learning off flood off mcast_flood on
ip -n p2p-small-sw1 link set dev t12 master br0
ip -n p2p-small-sw1 link set dev t12 up
bridge -n p2p-small-sw1 link set dev t12 learning off flood off mcast_flood on
bridge -n p2p-small-sw1 vlan add dev ca vid 100 pvid untagged
bridge -n p2p-small-sw1 vlan add dev t12 vid 100
tc -n p2p-small-sw1 qdisc add dev ca clsact
tc -n p2p-small-sw1 filter add dev ca ingress protocol 802.1ad pref 1 matchall action drop
tc -n p2p-small-sw1 filter add dev ca ingress protocol all pref 2 matchall action police rate 100000000bit burst 125000 conform-exceed drop/continue
tc -n p2p-small-sw1 filter add dev ca ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
bridge -n p2p-small-sw1 fdb add 02:5b:00:00:01:01 dev ca master static vlan 100
bridge -n p2p-small-sw1 fdb add 02:5b:00:00:01:02 dev t12 master static vlan 100
# switch sw2 (driver linux, netns p2p-small-sw2, bridge br0): 7 to add, 0 to remove
ip -n p2p-small-sw2 link set dev br0 type bridge vlan_protocol 802.1ad mcast_snooping 0
ip -n p2p-small-sw2 link set dev t21 master br0
ip -n p2p-small-sw2 link set dev t21 up
bridge -n p2p-small-sw2 link set dev t21 learning off flood off mcast_flood on
ip -n p2p-small-sw2 link set dev t23 master br0
ip -n p2p-small-sw2 link set dev t23 up
bridge -n p2p-small-sw2 link set dev t23 learning off flood off mcast_flood on
bridge -n p2p-small-sw2 vlan add dev t21 vid 100
bridge -n p2p-small-sw2 vlan add dev t23 vid 100
bridge -n p2p-small-sw2 fdb add 02:5b:00:00:01:01 dev t21 master static vlan 100
bridge -n p2p-small-sw2 fdb add 02:5b:00:00:01:02 dev t23 master static vlan 100
# switch sw3 (driver linux, netns p2p-small-sw3, bridge br0): 11 to add, 0 to remove
ip -n p2p-small-sw3 link set dev br0 type bridge vlan_protocol 802.1ad mcast_snooping 0
ip -n p2p-small-sw3 link set dev cb master br0
ip -n p2p-small-sw3 link set dev cb up
bridge -n p2p-small-sw3 link set dev cb learning off flood off mcast_flood on
ip -n p2p-small-sw3 link set dev t32 master br0
ip -n p2p-small-sw3 link set dev t32 up
bridge -n p2p-small-sw3 link set dev t32 learning off flood off mcast_flood on
bridge -n p2p-small-sw3 vlan add dev cb vid 100 pvid untagged
bridge -n p2p-small-sw3 vlan add dev t32 vid 100
tc -n p2p-small-sw3 qdisc add dev cb clsact
tc -n p2p-small-sw3 filter add dev cb ingress protocol 802.1ad pref 1 matchall action drop
tc -n p2p-small-sw3 filter add dev cb ingress protocol all pref 2 matchall action police rate 100000000bit burst 125000 conform-exceed drop/continue
tc -n p2p-small-sw3 filter add dev cb ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
bridge -n p2p-small-sw3 fdb add 02:5b:00:00:01:01 dev t32 master static vlan 100
bridge -n p2p-small-sw3 fdb add 02:5b:00:00:01:02 dev cb master static vlan 100
