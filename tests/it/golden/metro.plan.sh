# switchboard plan for topology metro: 547 change(s)
# switch core1 (driver linux, netns metro-core1, bridge br0): 60 to add, 0 to remove
ip -n metro-core1 link set dev br0 type bridge vlan_protocol 802.1ad mcast_snooping 0
ip -n metro-core1 link set dev a1 master br0
ip -n metro-core1 link set dev a1 up
bridge -n metro-core1 link set dev a1 learning off flood off mcast_flood on
ip -n metro-core1 link set dev a2 master br0
ip -n metro-core1 link set dev a2 up
bridge -n metro-core1 link set dev a2 learning off flood off mcast_flood on
ip -n metro-core1 link set dev a3 master br0
ip -n metro-core1 link set dev a3 up
bridge -n metro-core1 link set dev a3 learning off flood off mcast_flood on
bridge -n metro-core1 vlan add dev a1 vid 2
bridge -n metro-core1 vlan add dev a1 vid 3
bridge -n metro-core1 vlan add dev a1 vid 4
bridge -n metro-core1 vlan add dev a1 vid 5
bridge -n metro-core1 vlan add dev a1 vid 8
bridge -n metro-core1 vlan add dev a1 vid 9
bridge -n metro-core1 vlan add dev a2 vid 4
bridge -n metro-core1 vlan add dev a2 vid 5
bridge -n metro-core1 vlan add dev a2 vid 6
bridge -n metro-core1 vlan add dev a2 vid 7
bridge -n metro-core1 vlan add dev a2 vid 8
bridge -n metro-core1 vlan add dev a3 vid 2
bridge -n metro-core1 vlan add dev a3 vid 3
bridge -n metro-core1 vlan add dev a3 vid 6
bridge -n metro-core1 vlan add dev a3 vid 7
bridge -n metro-core1 vlan add dev a3 vid 8
bridge -n metro-core1 vlan add dev a3 vid 9
tc -n metro-core1 qdisc add dev a1 clsact
tc -n metro-core1 qdisc add dev a2 clsact
tc -n metro-core1 qdisc add dev a3 clsact
tc -n metro-core1 filter add dev a1 egress protocol 802.1ad pref 3 handle 2 flower vlan_id 2 action vlan modify id 2 priority 5 protocol 802.1ad
tc -n metro-core1 filter add dev a1 egress protocol 802.1ad pref 3 handle 4 flower vlan_id 4 action vlan modify id 4 priority 3 protocol 802.1ad
tc -n metro-core1 filter add dev a1 egress protocol 802.1ad pref 3 handle 5 flower vlan_id 5 action vlan modify id 5 priority 3 protocol 802.1ad
tc -n metro-core1 filter add dev a2 egress protocol 802.1ad pref 3 handle 4 flower vlan_id 4 action vlan modify id 4 priority 3 protocol 802.1ad
tc -n metro-core1 filter add dev a2 egress protocol 802.1ad pref 3 handle 5 flower vlan_id 5 action vlan modify id 5 priority 3 protocol 802.1ad
tc -n metro-core1 filter add dev a3 egress protocol 802.1ad pref 3 handle 2 flower vlan_id 2 action vlan modify id 2 priority 5 protocol 802.1ad
bridge -n metro-core1 fdb add 02:5b:00:00:01:01 dev a1 master static vlan 2
bridge -n metro-core1 fdb add 02:5b:00:00:01:02 dev a1 master static vlan 8
bridge -n metro-core1 fdb add 02:5b:00:00:01:03 dev a1 master static vlan 3
bridge -n metro-core1 fdb add 02:5b:00:00:01:03 dev a1 master static vlan 9
bridge -n metro-core1 fdb add 02:5b:00:00:02:01 dev a1 master static vlan 4
bridge -n metro-core1 fdb add 02:5b:00:00:02:02 dev a1 master static vlan 4
bridge -n metro-core1 fdb add 02:5b:00:00:02:03 dev a1 master static vlan 4
bridge -n metro-core1 fdb add 02:5b:00:00:02:03 dev a1 master static vlan 5
bridge -n metro-core1 fdb add 02:5b:00:00:02:03 dev a1 master static vlan 9
bridge -n metro-core1 fdb add 02:5b:00:00:04:01 dev a2 master static vlan 8
bridge -n metro-core1 fdb add 02:5b:00:00:04:02 dev a2 master static vlan 6
bridge -n metro-core1 fdb add 02:5b:00:00:04:02 dev a2 master static vlan 7
bridge -n metro-core1 fdb add 02:5b:00:00:05:01 dev a2 master static vlan 4
bridge -n metro-core1 fdb add 02:5b:00:00:05:02 dev a2 master static vlan 6
bridge -n metro-core1 fdb add 02:5b:00:00:05:03 dev a2 master static vlan 8
bridge -n metro-core1 fdb add 02:5b:00:00:06:01 dev a2 master static vlan 6
bridge -n metro-core1 fdb add 02:5b:00:00:06:01 dev a2 master static vlan 7
bridge -n metro-core1 fdb add 02:5b:00:00:06:02 dev a2 master static vlan 4
bridge -n metro-core1 fdb add 02:5b:00:00:07:02 dev a3 master static vlan 6
bridge -n metro-core1 fdb add 02:5b:00:00:07:03 dev a3 master static vlan 2
bridge -n metro-core1 fdb add 02:5b:00:00:08:01 dev a3 master static vlan 8
bridge -n metro-core1 fdb add 02:5b:00:00:08:02 dev a3 master static vlan 3
bridge -n metro-core1 fdb add 02:5b:00:00:08:03 dev a3 master static vlan 6
bridge -n metro-core1 fdb add 02:5b:00:00:09:02 dev a3 master static vlan 9
bridge -n metro-core1 fdb add 02:5b:00:01:02:02 dev a1 master static vlan 4
bridge -n metro-core1 fdb add 02:5b:00:01:04:02 dev a2 master static vlan 6
bridge -n metro-core1 fdb add 02:5b:00:01:04:02 dev a2 master static vlan 7
bridge -n metro-core1 fdb add 02:5b:00:01:06:01 dev a2 master static vlan 6
bridge -n metro-core1 fdb add 02:5b:00:01:06:01 dev a2 master static vlan 7
bridge -n metro-core1 fdb add 02:5b:00:01:08:01 dev a3 master static vlan 8
# switch agg1 (driver linux, netns metro-agg1, bridge br0): 46 to add, 0 to remove
ip -n metro-agg1 link set dev br0 type bridge vlan_protocol 802.1ad mcast_snooping 0
ip -n metro-agg1 link set dev d1 master br0
ip -n metro-agg1 link set dev d1 up
bridge -n metro-agg1 link set dev d1 learning off flood off mcast_flood on
ip -n metro-agg1 link set dev d2 master br0
ip -n metro-agg1 link set dev d2 up
bridge -n metro-agg1 link set dev d2 learning off flood off mcast_flood on
ip -n metro-agg1 link set dev d3 master br0
ip -n metro-agg1 link set dev d3 up
bridge -n metro-agg1 link set dev d3 learning off flood off mcast_flood on
ip -n metro-agg1 link set dev up master br0
ip -n metro-agg1 link set dev up up
bridge -n metro-agg1 link set dev up learning off flood off mcast_flood on
bridge -n metro-agg1 vlan add dev d1 vid 2
bridge -n metro-agg1 vlan add dev d1 vid 3
bridge -n metro-agg1 vlan add dev d1 vid 8
bridge -n metro-agg1 vlan add dev d1 vid 9
bridge -n metro-agg1 vlan add dev d2 vid 4
bridge -n metro-agg1 vlan add dev d2 vid 5
bridge -n metro-agg1 vlan add dev d2 vid 9
bridge -n metro-agg1 vlan add dev up vid 2
bridge -n metro-agg1 vlan add dev up vid 3
bridge -n metro-agg1 vlan add dev up vid 4
bridge -n metro-agg1 vlan add dev up vid 5
bridge -n metro-agg1 vlan add dev up vid 8
bridge -n metro-agg1 vlan add dev up vid 9
tc -n metro-agg1 qdisc add dev d1 clsact
tc -n metro-agg1 qdisc add dev d2 clsact
tc -n metro-agg1 qdisc add dev up clsact
tc -n metro-agg1 filter add dev d1 egress protocol 802.1ad pref 3 handle 2 flower vlan_id 2 action vlan modify id 2 priority 5 protocol 802.1ad
tc -n metro-agg1 filter add dev d2 egress protocol 802.1ad pref 3 handle 4 flower vlan_id 4 action vlan modify id 4 priority 3 protocol 802.1ad
tc -n metro-agg1 filter add dev d2 egress protocol 802.1ad pref 3 handle 5 flower vlan_id 5 action vlan modify id 5 priority 3 protocol 802.1ad
tc -n metro-agg1 filter add dev up egress protocol 802.1ad pref 3 handle 2 flower vlan_id 2 action vlan modify id 2 priority 5 protocol 802.1ad
tc -n metro-agg1 filter add dev up egress protocol 802.1ad pref 3 handle 4 flower vlan_id 4 action vlan modify id 4 priority 3 protocol 802.1ad
tc -n metro-agg1 filter add dev up egress protocol 802.1ad pref 3 handle 5 flower vlan_id 5 action vlan modify id 5 priority 3 protocol 802.1ad
bridge -n metro-agg1 fdb add 02:5b:00:00:01:01 dev d1 master static vlan 2
bridge -n metro-agg1 fdb add 02:5b:00:00:01:02 dev d1 master static vlan 8
bridge -n metro-agg1 fdb add 02:5b:00:00:01:03 dev d1 master static vlan 3
bridge -n metro-agg1 fdb add 02:5b:00:00:01:03 dev d1 master static vlan 9
bridge -n metro-agg1 fdb add 02:5b:00:00:02:01 dev d2 master static vlan 4
bridge -n metro-agg1 fdb add 02:5b:00:00:02:02 dev d2 master static vlan 4
bridge -n metro-agg1 fdb add 02:5b:00:00:02:03 dev d2 master static vlan 4
bridge -n metro-agg1 fdb add 02:5b:00:00:02:03 dev d2 master static vlan 5
bridge -n metro-agg1 fdb add 02:5b:00:00:02:03 dev d2 master static vlan 9
bridge -n metro-agg1 fdb add 02:5b:00:00:04:01 dev up master static vlan 8
bridge -n metro-agg1 fdb add 02:5b:00:00:05:01 dev up master static vlan 4
bridge -n metro-agg1 fdb add 02:5b:00:00:05:03 dev up master static vlan 8
bridge -n metro-agg1 fdb add 02:5b:00:00:06:02 dev up master static vlan 4
bridge -n metro-agg1 fdb add 02:5b:00:00:07:03 dev up master static vlan 2
bridge -n metro-agg1 fdb add 02:5b:00:00:08:01 dev up master static vlan 8
bridge -n metro-agg1 fdb add 02:5b:00:00:08:02 dev up master static vlan 3
bridge -n metro-agg1 fdb add 02:5b:00:00:09:02 dev up master static vlan 9
bridge -n metro-agg1 fdb add 02:5b:00:01:02:02 dev d2 master static vlan 4
bridge -n metro-agg1 fdb add 02:5b:00:01:08:01 dev up master static vlan 8
# switch agg2 (driver linux, netns metro-agg2, bridge br0): 54 to add, 0 to remove
ip -n metro-agg2 link set dev br0 type bridge vlan_protocol 802.1ad mcast_snooping 0
ip -n metro-agg2 link set dev d1 master br0
ip -n metro-agg2 link set dev d1 up
bridge -n metro-agg2 link set dev d1 learning off flood off mcast_flood on
ip -n metro-agg2 link set dev d2 master br0
ip -n metro-agg2 link set dev d2 up
bridge -n metro-agg2 link set dev d2 learning off flood off mcast_flood on
ip -n metro-agg2 link set dev d3 master br0
ip -n metro-agg2 link set dev d3 up
bridge -n metro-agg2 link set dev d3 learning off flood off mcast_flood on
ip -n metro-agg2 link set dev up master br0
ip -n metro-agg2 link set dev up up
bridge -n metro-agg2 link set dev up learning off flood off mcast_flood on
bridge -n metro-agg2 vlan add dev d1 vid 6
bridge -n metro-agg2 vlan add dev d1 vid 7
bridge -n metro-agg2 vlan add dev d1 vid 8
bridge -n metro-agg2 vlan add dev d2 vid 4
bridge -n metro-agg2 vlan add dev d2 vid 5
bridge -n metro-agg2 vlan add dev d2 vid 6
bridge -n metro-agg2 vlan add dev d2 vid 7
bridge -n metro-agg2 vlan add dev d2 vid 8
bridge -n metro-agg2 vlan add dev d3 vid 4
bridge -n metro-agg2 vlan add dev d3 vid 5
bridge -n metro-agg2 vlan add dev d3 vid 6
bridge -n metro-agg2 vlan add dev d3 vid 7
bridge -n metro-agg2 vlan add dev up vid 4
bridge -n metro-agg2 vlan add dev up vid 5
bridge -n metro-agg2 vlan add dev up vid 6
bridge -n metro-agg2 vlan add dev up vid 7
bridge -n metro-agg2 vlan add dev up vid 8
tc -n metro-agg2 qdisc add dev d2 clsact
tc -n metro-agg2 qdisc add dev d3 clsact
tc -n metro-agg2 qdisc add dev up clsact
tc -n metro-agg2 filter add dev d2 egress protocol 802.1ad pref 3 handle 4 flower vlan_id 4 action vlan modify id 4 priority 3 protocol 802.1ad
tc -n metro-agg2 filter add dev d2 egress protocol 802.1ad pref 3 handle 5 flower vlan_id 5 action vlan modify id 5 priority 3 protocol 802.1ad
tc -n metro-agg2 filter add dev d3 egress protocol 802.1ad pref 3 handle 4 flower vlan_id 4 action vlan modify id 4 priority 3 protocol 802.1ad
tc -n metro-agg2 filter add dev d3 egress protocol 802.1ad pref 3 handle 5 flower vlan_id 5 action vlan modify id 5 priority 3 protocol 802.1ad
tc -n metro-agg2 filter add dev up egress protocol 802.1ad pref 3 handle 4 flower vlan_id 4 action vlan modify id 4 priority 3 protocol 802.1ad
tc -n metro-agg2 filter add dev up egress protocol 802.1ad pref 3 handle 5 flower vlan_id 5 action vlan modify id 5 priority 3 protocol 802.1ad
bridge -n metro-agg2 fdb add 02:5b:00:00:01:02 dev up master static vlan 8
bridge -n metro-agg2 fdb add 02:5b:00:00:02:01 dev up master static vlan 4
bridge -n metro-agg2 fdb add 02:5b:00:00:02:02 dev up master static vlan 4
bridge -n metro-agg2 fdb add 02:5b:00:00:02:03 dev up master static vlan 4
bridge -n metro-agg2 fdb add 02:5b:00:00:02:03 dev up master static vlan 5
bridge -n metro-agg2 fdb add 02:5b:00:00:04:01 dev d1 master static vlan 8
bridge -n metro-agg2 fdb add 02:5b:00:00:04:02 dev d1 master static vlan 6
bridge -n metro-agg2 fdb add 02:5b:00:00:04:02 dev d1 master static vlan 7
bridge -n metro-agg2 fdb add 02:5b:00:00:05:01 dev d2 master static vlan 4
bridge -n metro-agg2 fdb add 02:5b:00:00:05:02 dev d2 master static vlan 6
bridge -n metro-agg2 fdb add 02:5b:00:00:05:03 dev d2 master static vlan 8
bridge -n metro-agg2 fdb add 02:5b:00:00:06:01 dev d3 master static vlan 6
bridge -n metro-agg2 fdb add 02:5b:00:00:06:01 dev d3 master static vlan 7
bridge -n metro-agg2 fdb add 02:5b:00:00:06:02 dev d3 master static vlan 4
bridge -n metro-agg2 fdb add 02:5b:00:00:07:02 dev up master static vlan 6
bridge -n metro-agg2 fdb add 02:5b:00:00:08:01 dev up master static vlan 8
bridge -n metro-agg2 fdb add 02:5b:00:00:08:03 dev up master static vlan 6
bridge -n metro-agg2 fdb add 02:5b:00:01:02:02 dev up master static vlan 4
bridge -n metro-agg2 fdb add 02:5b:00:01:04:02 dev d1 master static vlan 6
bridge -n metro-agg2 fdb add 02:5b:00:01:04:02 dev d1 master static vlan 7
bridge -n metro-agg2 fdb add 02:5b:00:01:06:01 dev d3 master static vlan 6
bridge -n metro-agg2 fdb add 02:5b:00:01:06:01 dev d3 master static vlan 7
bridge -n metro-agg2 fdb add 02:5b:00:01:08:01 dev up master static vlan 8
# switch agg3 (driver linux, netns metro-agg3, bridge br0): 46 to add, 0 to remove
ip -n metro-agg3 link set dev br0 type bridge vlan_protocol 802.1ad mcast_snooping 0
ip -n metro-agg3 link set dev d1 master br0
ip -n metro-agg3 link set dev d1 up
bridge -n metro-agg3 link set dev d1 learning off flood off mcast_flood on
ip -n metro-agg3 link set dev d2 master br0
ip -n metro-agg3 link set dev d2 up
bridge -n metro-agg3 link set dev d2 learning off flood off mcast_flood on
ip -n metro-agg3 link set dev d3 master br0
ip -n metro-agg3 link set dev d3 up
bridge -n metro-agg3 link set dev d3 learning off flood off mcast_flood on
ip -n metro-agg3 link set dev up master br0
ip -n metro-agg3 link set dev up up
bridge -n metro-agg3 link set dev up learning off flood off mcast_flood on
bridge -n metro-agg3 vlan add dev d1 vid 2
bridge -n metro-agg3 vlan add dev d1 vid 6
bridge -n metro-agg3 vlan add dev d1 vid 7
bridge -n metro-agg3 vlan add dev d2 vid 3
bridge -n metro-agg3 vlan add dev d2 vid 6
bridge -n metro-agg3 vlan add dev d2 vid 7
bridge -n metro-agg3 vlan add dev d2 vid 8
bridge -n metro-agg3 vlan add dev d3 vid 9
bridge -n metro-agg3 vlan add dev up vid 2
bridge -n metro-agg3 vlan add dev up vid 3
bridge -n metro-agg3 vlan add dev up vid 6
bridge -n metro-agg3 vlan add dev up vid 7
bridge -n metro-agg3 vlan add dev up vid 8
bridge -n metro-agg3 vlan add dev up vid 9
tc -n metro-agg3 qdisc add dev d1 clsact
tc -n metro-agg3 qdisc add dev up clsact
tc -n metro-agg3 filter add dev d1 egress protocol 802.1ad pref 3 handle 2 flower vlan_id 2 action vlan modify id 2 priority 5 protocol 802.1ad
tc -n metro-agg3 filter add dev up egress protocol 802.1ad pref 3 handle 2 flower vlan_id 2 action vlan modify id 2 priority 5 protocol 802.1ad
bridge -n metro-agg3 fdb add 02:5b:00:00:01:01 dev up master static vlan 2
bridge -n metro-agg3 fdb add 02:5b:00:00:01:02 dev up master static vlan 8
bridge -n metro-agg3 fdb add 02:5b:00:00:01:03 dev up master static vlan 3
bridge -n metro-agg3 fdb add 02:5b:00:00:01:03 dev up master static vlan 9
bridge -n metro-agg3 fdb add 02:5b:00:00:02:03 dev up master static vlan 9
bridge -n metro-agg3 fdb add 02:5b:00:00:04:01 dev up master static vlan 8
bridge -n metro-agg3 fdb add 02:5b:00:00:04:02 dev up master static vlan 6
bridge -n metro-agg3 fdb add 02:5b:00:00:04:02 dev up master static vlan 7
bridge -n metro-agg3 fdb add 02:5b:00:00:05:02 dev up master static vlan 6
bridge -n metro-agg3 fdb add 02:5b:00:00:05:03 dev up master static vlan 8
bridge -n metro-agg3 fdb add 02:5b:00:00:06:01 dev up master static vlan 6
bridge -n metro-agg3 fdb add 02:5b:00:00:06:01 dev up master static vlan 7
bridge -n metro-agg3 fdb add 02:5b:00:00:07:02 dev d1 master static vlan 6
bridge -n metro-agg3 fdb add 02:5b:00:00:07:03 dev d1 master static vlan 2
bridge -n metro-agg3 fdb add 02:5b:00:00:08:01 dev d2 master static vlan 8
bridge -n metro-agg3 fdb add 02:5b:00:00:08:02 dev d2 master static vlan 3
bridge -n metro-agg3 fdb add 02:5b:00:00:08:03 dev d2 master static vlan 6
bridge -n metro-agg3 fdb add 02:5b:00:00:09:02 dev d3 master static vlan 9
bridge -n metro-agg3 fdb add 02:5b:00:01:04:02 dev up master static vlan 6
bridge -n metro-agg3 fdb add 02:5b:00:01:04:02 dev up master static vlan 7
bridge -n metro-agg3 fdb add 02:5b:00:01:06:01 dev up master static vlan 6
bridge -n metro-agg3 fdb add 02:5b:00:01:06:01 dev up master static vlan 7
bridge -n metro-agg3 fdb add 02:5b:00:01:08:01 dev d2 master static vlan 8
# switch acc1 (driver linux, netns metro-acc1, bridge br0): 46 to add, 0 to remove
ip -n metro-acc1 link set dev br0 type bridge vlan_protocol 802.1ad mcast_snooping 0
ip -n metro-acc1 link set dev c3 up
ip -n metro-acc1 link add link c3 name c3.9 type vlan id 9
ip -n metro-acc1 link set dev c3 up
ip -n metro-acc1 link add link c3 name c3.500 type vlan id 500
ip -n metro-acc1 link set dev c1 master br0
ip -n metro-acc1 link set dev c1 up
bridge -n metro-acc1 link set dev c1 learning off flood off mcast_flood on
ip -n metro-acc1 link set dev c2 master br0
ip -n metro-acc1 link set dev c2 up
bridge -n metro-acc1 link set dev c2 learning off flood off mcast_flood on
ip -n metro-acc1 link set dev c3.500 master br0
ip -n metro-acc1 link set dev c3.500 up
bridge -n metro-acc1 link set dev c3.500 learning off flood off mcast_flood on
ip -n metro-acc1 link set dev c3.9 master br0
ip -n metro-acc1 link set dev c3.9 up
bridge -n metro-acc1 link set dev c3.9 learning off flood off mcast_flood on
ip -n metro-acc1 link set dev up master br0
ip -n metro-acc1 link set dev up up
bridge -n metro-acc1 link set dev up learning off flood off mcast_flood on
bridge -n metro-acc1 vlan add dev c1 vid 2 pvid untagged
bridge -n metro-acc1 vlan add dev c2 vid 8 pvid untagged
bridge -n metro-acc1 vlan add dev c3.500 vid 3 pvid untagged
bridge -n metro-acc1 vlan add dev c3.9 vid 9 pvid untagged
bridge -n metro-acc1 vlan add dev up vid 2
bridge -n metro-acc1 vlan add dev up vid 3
bridge -n metro-acc1 vlan add dev up vid 8
bridge -n metro-acc1 vlan add dev up vid 9
tc -n metro-acc1 qdisc add dev c1 clsact
tc -n metro-acc1 qdisc add dev c2 clsact
tc -n metro-acc1 qdisc add dev c3.500 clsact
tc -n metro-acc1 qdisc add dev c3.9 clsact
tc -n metro-acc1 qdisc add dev up clsact
tc -n metro-acc1 filter add dev c1 ingress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc1 filter add dev c2 ingress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc1 filter add dev c3.500 ingress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc1 filter add dev c3.9 ingress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc1 filter add dev c1 ingress protocol all pref 2 matchall action police rate 200000000bit burst 250000 conform-exceed drop/continue
tc -n metro-acc1 filter add dev c2 ingress protocol all pref 2 matchall action police rate 100000000bit burst 125000 conform-exceed drop/continue
tc -n metro-acc1 filter add dev c3.500 ingress protocol all pref 2 matchall action police rate 500000000bit burst 625000 conform-exceed drop/continue
tc -n metro-acc1 filter add dev c3.9 ingress protocol all pref 2 matchall action police rate 100000000bit burst 125000 conform-exceed drop/continue
tc -n metro-acc1 filter add dev up egress protocol 802.1ad pref 3 handle 2 flower vlan_id 2 action vlan modify id 2 priority 5 protocol 802.1ad
tc -n metro-acc1 filter add dev c1 ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
tc -n metro-acc1 filter add dev c2 ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
tc -n metro-acc1 filter add dev c3.500 ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
tc -n metro-acc1 filter add dev c3.9 ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
bridge -n metro-acc1 fdb add 02:5b:00:00:01:01 dev c1 master static vlan 2
bridge -n metro-acc1 fdb add 02:5b:00:00:01:02 dev c2 master static vlan 8
bridge -n metro-acc1 fdb add 02:5b:00:00:01:03 dev c3.500 master static vlan 3
bridge -n metro-acc1 fdb add 02:5b:00:00:01:03 dev c3.9 master static vlan 9
bridge -n metro-acc1 fdb add 02:5b:00:00:02:03 dev up master static vlan 9
bridge -n metro-acc1 fdb add 02:5b:00:00:04:01 dev up master static vlan 8
bridge -n metro-acc1 fdb add 02:5b:00:00:05:03 dev up master static vlan 8
bridge -n metro-acc1 fdb add 02:5b:00:00:07:03 dev up master static vlan 2
bridge -n metro-acc1 fdb add 02:5b:00:00:08:01 dev up master static vlan 8
bridge -n metro-acc1 fdb add 02:5b:00:00:08:02 dev up master static vlan 3
bridge -n metro-acc1 fdb add 02:5b:00:00:09:02 dev up master static vlan 9
bridge -n metro-acc1 fdb add 02:5b:00:01:08:01 dev up master static vlan 8
# switch acc2 (driver linux, netns metro-acc2, bridge br0): 49 to add, 0 to remove
ip -n metro-acc2 link set dev br0 type bridge vlan_protocol 802.1ad mcast_snooping 0
ip -n metro-acc2 link set dev c3 up
ip -n metro-acc2 link add link c3 name c3.9 type vlan id 9
ip -n metro-acc2 link set dev c3 up
ip -n metro-acc2 link add link c3 name c3.300 type vlan id 300
ip -n metro-acc2 link set dev c1 master br0
ip -n metro-acc2 link set dev c1 up
bridge -n metro-acc2 link set dev c1 learning off flood off mcast_flood on
ip -n metro-acc2 link set dev c2 master br0
ip -n metro-acc2 link set dev c2 up
bridge -n metro-acc2 link set dev c2 learning off flood off mcast_flood on
ip -n metro-acc2 link set dev c3.300 master br0
ip -n metro-acc2 link set dev c3.300 up
bridge -n metro-acc2 link set dev c3.300 learning off flood off mcast_flood on
ip -n metro-acc2 link set dev c3.9 master br0
ip -n metro-acc2 link set dev c3.9 up
bridge -n metro-acc2 link set dev c3.9 learning off flood off mcast_flood on
ip -n metro-acc2 link set dev up master br0
ip -n metro-acc2 link set dev up up
bridge -n metro-acc2 link set dev up learning off flood off mcast_flood on
bridge -n metro-acc2 vlan add dev c1 vid 4 untagged
bridge -n metro-acc2 vlan add dev c1 vid 5 pvid
bridge -n metro-acc2 vlan add dev c2 vid 4 untagged
bridge -n metro-acc2 vlan add dev c2 vid 5 pvid
bridge -n metro-acc2 vlan add dev c3.300 vid 4 pvid untagged
bridge -n metro-acc2 vlan add dev c3.300 vid 5 untagged
bridge -n metro-acc2 vlan add dev c3.9 vid 9 pvid untagged
bridge -n metro-acc2 vlan add dev up vid 4
bridge -n metro-acc2 vlan add dev up vid 5
bridge -n metro-acc2 vlan add dev up vid 9
tc -n metro-acc2 qdisc add dev c1 clsact
tc -n metro-acc2 qdisc add dev c2 clsact
tc -n metro-acc2 qdisc add dev c3.300 clsact
tc -n metro-acc2 qdisc add dev c3.9 clsact
tc -n metro-acc2 qdisc add dev up clsact
tc -n metro-acc2 filter add dev c1 ingress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc2 filter add dev c1 egress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc2 filter add dev c2 ingress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc2 filter add dev c2 egress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc2 filter add dev c3.300 ingress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc2 filter add dev c3.9 ingress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc2 filter add dev c1 ingress protocol all pref 2 matchall action police rate 100000000bit burst 125000 conform-exceed drop/continue
tc -n metro-acc2 filter add dev c2 ingress protocol all pref 2 matchall action police rate 100000000bit burst 125000 conform-exceed drop/continue
tc -n metro-acc2 filter add dev c3.300 ingress protocol all pref 2 matchall action police rate 100000000bit burst 125000 conform-exceed drop/continue
tc -n metro-acc2 filter add dev c3.9 ingress protocol all pref 2 matchall action police rate 100000000bit burst 125000 conform-exceed drop/continue
tc -n metro-acc2 filter add dev up egress protocol 802.1ad pref 3 handle 4 flower vlan_id 4 action vlan modify id 4 priority 3 protocol 802.1ad
tc -n metro-acc2 filter add dev up egress protocol 802.1ad pref 3 handle 5 flower vlan_id 5 action vlan modify id 5 priority 3 protocol 802.1ad
tc -n metro-acc2 filter add dev c1 ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
tc -n metro-acc2 filter add dev c2 ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
tc -n metro-acc2 filter add dev c3.300 ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
tc -n metro-acc2 filter add dev c3.9 ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
bridge -n metro-acc2 fdb add 02:5b:00:00:01:03 dev up master static vlan 9
bridge -n metro-acc2 fdb add 02:5b:00:00:02:01 dev c1 master static vlan 4
bridge -n metro-acc2 fdb add 02:5b:00:00:02:02 dev c2 master static vlan 4
bridge -n metro-acc2 fdb add 02:5b:00:00:02:03 dev c3.300 master static vlan 4
bridge -n metro-acc2 fdb add 02:5b:00:00:02:03 dev c3.300 master static vlan 5
bridge -n metro-acc2 fdb add 02:5b:00:00:02:03 dev c3.9 master static vlan 9
bridge -n metro-acc2 fdb add 02:5b:00:00:05:01 dev up master static vlan 4
bridge -n metro-acc2 fdb add 02:5b:00:00:06:02 dev up master static vlan 4
bridge -n metro-acc2 fdb add 02:5b:00:00:09:02 dev up master static vlan 9
bridge -n metro-acc2 fdb add 02:5b:00:01:02:02 dev c2 master static vlan 4
# switch acc3 (driver linux, netns metro-acc3, bridge br0): 16 to add, 0 to remove
ip -n metro-acc3 link set dev br0 type bridge vlan_protocol 802.1ad mcast_snooping 0
ip -n metro-acc3 link set dev c1 master br0
ip -n metro-acc3 link set dev c1 up
bridge -n metro-acc3 link set dev c1 learning off flood off mcast_flood on
ip -n metro-acc3 link set dev c2 master br0
ip -n metro-acc3 link set dev c2 up
bridge -n metro-acc3 link set dev c2 learning off flood off mcast_flood on
ip -n metro-acc3 link set dev up master br0
ip -n metro-acc3 link set dev up up
bridge -n metro-acc3 link set dev up learning off flood off mcast_flood on
bridge -n metro-acc3 vlan add dev c1 vid 2000 pvid untagged
bridge -n metro-acc3 vlan add dev c2 vid 2000 pvid untagged
tc -n metro-acc3 qdisc add dev c1 clsact
tc -n metro-acc3 qdisc add dev c2 clsact
tc -n metro-acc3 filter add dev c1 ingress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc3 filter add dev c2 ingress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc3 filter add dev c1 ingress protocol all pref 2 matchall action police rate 100000000bit burst 125000 conform-exceed drop/continue
tc -n metro-acc3 filter add dev c2 ingress protocol all pref 2 matchall action police rate 100000000bit burst 125000 conform-exceed drop/continue
tc -n metro-acc3 filter add dev c1 ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
tc -n metro-acc3 filter add dev c2 ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
bridge -n metro-acc3 fdb add 02:5b:00:00:03:01 dev c1 master static vlan 2000
bridge -n metro-acc3 fdb add 02:5b:00:00:03:02 dev c2 master static vlan 2000
# switch acc4 (driver linux, netns metro-acc4, bridge br0): 36 to add, 0 to remove
ip -n metro-acc4 link set dev br0 type bridge vlan_protocol 802.1ad mcast_snooping 0
ip -n metro-acc4 link set dev c1 up
ip -n metro-acc4 link add link c1 name c1.700 type vlan id 700
ip -n metro-acc4 link set dev c1.700 master br0
ip -n metro-acc4 link set dev c1.700 up
bridge -n metro-acc4 link set dev c1.700 learning off flood off mcast_flood on
ip -n metro-acc4 link set dev c2 master br0
ip -n metro-acc4 link set dev c2 up
bridge -n metro-acc4 link set dev c2 learning off flood off mcast_flood on
ip -n metro-acc4 link set dev c3 master br0
ip -n metro-acc4 link set dev c3 up
bridge -n metro-acc4 link set dev c3 learning off flood off mcast_flood on
ip -n metro-acc4 link set dev up master br0
ip -n metro-acc4 link set dev up up
bridge -n metro-acc4 link set dev up learning off flood off mcast_flood on
bridge -n metro-acc4 vlan add dev c1.700 vid 8 pvid untagged
bridge -n metro-acc4 vlan add dev c2 vid 6 pvid untagged
bridge -n metro-acc4 vlan add dev c2 vid 7 untagged
bridge -n metro-acc4 vlan add dev up vid 6
bridge -n metro-acc4 vlan add dev up vid 7
bridge -n metro-acc4 vlan add dev up vid 8
tc -n metro-acc4 qdisc add dev c1.700 clsact
tc -n metro-acc4 qdisc add dev c2 clsact
tc -n metro-acc4 filter add dev c1.700 ingress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc4 filter add dev c2 ingress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc4 filter add dev c1.700 ingress protocol all pref 2 matchall action police rate 100000000bit burst 125000 conform-exceed drop/continue
tc -n metro-acc4 filter add dev c2 ingress protocol all pref 2 matchall action police rate 50000000bit burst 62500 conform-exceed drop/continue
tc -n metro-acc4 filter add dev c1.700 ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
tc -n metro-acc4 filter add dev c2 ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
bridge -n metro-acc4 fdb add 02:5b:00:00:01:02 dev up master static vlan 8
bridge -n metro-acc4 fdb add 02:5b:00:00:04:01 dev c1.700 master static vlan 8
bridge -n metro-acc4 fdb add 02:5b:00:00:04:02 dev c2 master static vlan 6
bridge -n metro-acc4 fdb add 02:5b:00:00:04:02 dev c2 master static vlan 7
bridge -n metro-acc4 fdb add 02:5b:00:00:05:02 dev up master static vlan 6
bridge -n metro-acc4 fdb add 02:5b:00:00:05:03 dev up master static vlan 8
bridge -n metro-acc4 fdb add 02:5b:00:00:06:01 dev up master static vlan 6
bridge -n metro-acc4 fdb add 02:5b:00:00:06:01 dev up master static vlan 7
bridge -n metro-acc4 fdb add 02:5b:00:00:07:02 dev up master static vlan 6
bridge -n metro-acc4 fdb add 02:5b:00:00:08:01 dev up master static vlan 8
bridge -n metro-acc4 fdb add 02:5b:00:00:08:03 dev up master static vlan 6
bridge -n metro-acc4 fdb add 02:5b:00:01:04:02 dev c2 master static vlan 6
bridge -n metro-acc4 fdb add 02:5b:00:01:04:02 dev c2 master static vlan 7
bridge -n metro-acc4 fdb add 02:5b:00:01:06:01 dev up master static vlan 6
bridge -n metro-acc4 fdb add 02:5b:00:01:06:01 dev up master static vlan 7
bridge -n metro-acc4 fdb add 02:5b:00:01:08:01 dev up master static vlan 8
# switch acc5 (driver linux, netns metro-acc5, bridge br0): 56 to add, 0 to remove
ip -n metro-acc5 link set dev br0 type bridge vlan_protocol 802.1ad mcast_snooping 0
ip -n metro-acc5 link set dev c1 up
ip -n metro-acc5 link add link c1 name c1.4 type vlan id 4
ip -n metro-acc5 link set dev c1.4 master br0
ip -n metro-acc5 link set dev c1.4 up
bridge -n metro-acc5 link set dev c1.4 learning off flood off mcast_flood on
ip -n metro-acc5 link set dev c2 master br0
ip -n metro-acc5 link set dev c2 up
bridge -n metro-acc5 link set dev c2 learning off flood off mcast_flood on
ip -n metro-acc5 link set dev c3 master br0
ip -n metro-acc5 link set dev c3 up
bridge -n metro-acc5 link set dev c3 learning off flood off mcast_flood on
ip -n metro-acc5 link set dev up master br0
ip -n metro-acc5 link set dev up up
bridge -n metro-acc5 link set dev up learning off flood off mcast_flood on
bridge -n metro-acc5 vlan add dev c1.4 vid 4 untagged
bridge -n metro-acc5 vlan add dev c1.4 vid 5 pvid
bridge -n metro-acc5 vlan add dev c2 vid 6 untagged
bridge -n metro-acc5 vlan add dev c2 vid 7 pvid
bridge -n metro-acc5 vlan add dev c3 vid 8 pvid untagged
bridge -n metro-acc5 vlan add dev up vid 4
bridge -n metro-acc5 vlan add dev up vid 5
bridge -n metro-acc5 vlan add dev up vid 6
bridge -n metro-acc5 vlan add dev up vid 7
bridge -n metro-acc5 vlan add dev up vid 8
tc -n metro-acc5 qdisc add dev c1.4 clsact
tc -n metro-acc5 qdisc add dev c2 clsact
tc -n metro-acc5 qdisc add dev c3 clsact
tc -n metro-acc5 qdisc add dev up clsact
tc -n metro-acc5 filter add dev c1.4 ingress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc5 filter add dev c1.4 egress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc5 filter add dev c2 ingress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc5 filter add dev c2 egress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc5 filter add dev c3 ingress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc5 filter add dev c1.4 ingress protocol all pref 2 matchall action police rate 100000000bit burst 125000 conform-exceed drop/continue
tc -n metro-acc5 filter add dev c2 ingress protocol all pref 2 matchall action police rate 50000000bit burst 62500 conform-exceed drop/continue
tc -n metro-acc5 filter add dev c3 ingress protocol all pref 2 matchall action police rate 100000000bit burst 125000 conform-exceed drop/continue
tc -n metro-acc5 filter add dev up egress protocol 802.1ad pref 3 handle 4 flower vlan_id 4 action vlan modify id 4 priority 3 protocol 802.1ad
tc -n metro-acc5 filter add dev up egress protocol 802.1ad pref 3 handle 5 flower vlan_id 5 action vlan modify id 5 priority 3 protocol 802.1ad
tc -n metro-acc5 filter add dev c1.4 ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
tc -n metro-acc5 filter add dev c2 ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
tc -n metro-acc5 filter add dev c3 ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
bridge -n metro-acc5 fdb add 02:5b:00:00:01:02 dev up master static vlan 8
bridge -n metro-acc5 fdb add 02:5b:00:00:02:01 dev up master static vlan 4
bridge -n metro-acc5 fdb add 02:5b:00:00:02:02 dev up master static vlan 4
bridge -n metro-acc5 fdb add 02:5b:00:00:02:03 dev up master static vlan 4
bridge -n metro-acc5 fdb add 02:5b:00:00:02:03 dev up master static vlan 5
bridge -n metro-acc5 fdb add 02:5b:00:00:04:01 dev up master static vlan 8
bridge -n metro-acc5 fdb add 02:5b:00:00:04:02 dev up master static vlan 6
bridge -n metro-acc5 fdb add 02:5b:00:00:04:02 dev up master static vlan 7
bridge -n metro-acc5 fdb add 02:5b:00:00:05:01 dev c1.4 master static vlan 4
bridge -n metro-acc5 fdb add 02:5b:00:00:05:02 dev c2 master static vlan 6
bridge -n metro-acc5 fdb add 02:5b:00:00:05:03 dev c3 master static vlan 8
bridge -n metro-acc5 fdb add 02:5b:00:00:06:01 dev up master static vlan 6
bridge -n metro-acc5 fdb add 02:5b:00:00:06:01 dev up master static vlan 7
bridge -n metro-acc5 fdb add 02:5b:00:00:06:02 dev up master static vlan 4
bridge -n metro-acc5 fdb add 02:5b:00:00:07:02 dev up master static vlan 6
bridge -n metro-acc5 fdb add 02:5b:00:00:08:01 dev up master static vlan 8
bridge -n metro-acc5 fdb add 02:5b:00:00:08:03 dev up master static vlan 6
bridge -n metro-acc5 fdb add 02:5b:00:01:02:02 dev up master static vlan 4
bridge -n metro-acc5 fdb add 02:5b:00:01:04:02 dev up master static vlan 6
bridge -n metro-acc5 fdb add 02:5b:00:01:04:02 dev up master static vlan 7
bridge -n metro-acc5 fdb add 02:5b:00:01:06:01 dev up master static vlan 6
bridge -n metro-acc5 fdb add 02:5b:00:01:06:01 dev up master static vlan 7
bridge -n metro-acc5 fdb add 02:5b:00:01:08:01 dev up master static vlan 8
# switch acc6 (driver linux, netns metro-acc6, bridge br0): 43 to add, 0 to remove
ip -n metro-acc6 link set dev br0 type bridge vlan_protocol 802.1ad mcast_snooping 0
ip -n metro-acc6 link set dev c1 up
ip -n metro-acc6 link add link c1 name c1.810 type vlan id 810
ip -n metro-acc6 link set dev c1.810 master br0
ip -n metro-acc6 link set dev c1.810 up
bridge -n metro-acc6 link set dev c1.810 learning off flood off mcast_flood on
ip -n metro-acc6 link set dev c2 master br0
ip -n metro-acc6 link set dev c2 up
bridge -n metro-acc6 link set dev c2 learning off flood off mcast_flood on
ip -n metro-acc6 link set dev up master br0
ip -n metro-acc6 link set dev up up
bridge -n metro-acc6 link set dev up learning off flood off mcast_flood on
bridge -n metro-acc6 vlan add dev c1.810 vid 6 pvid untagged
bridge -n metro-acc6 vlan add dev c1.810 vid 7 untagged
bridge -n metro-acc6 vlan add dev c2 vid 4 untagged
bridge -n metro-acc6 vlan add dev c2 vid 5 pvid
bridge -n metro-acc6 vlan add dev up vid 4
bridge -n metro-acc6 vlan add dev up vid 5
bridge -n metro-acc6 vlan add dev up vid 6
bridge -n metro-acc6 vlan add dev up vid 7
tc -n metro-acc6 qdisc add dev c1.810 clsact
tc -n metro-acc6 qdisc add dev c2 clsact
tc -n metro-acc6 qdisc add dev up clsact
tc -n metro-acc6 filter add dev c1.810 ingress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc6 filter add dev c2 ingress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc6 filter add dev c2 egress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc6 filter add dev c1.810 ingress protocol all pref 2 matchall action police rate 50000000bit burst 62500 conform-exceed drop/continue
tc -n metro-acc6 filter add dev c2 ingress protocol all pref 2 matchall action police rate 100000000bit burst 125000 conform-exceed drop/continue
tc -n metro-acc6 filter add dev up egress protocol 802.1ad pref 3 handle 4 flower vlan_id 4 action vlan modify id 4 priority 3 protocol 802.1ad
tc -n metro-acc6 filter add dev up egress protocol 802.1ad pref 3 handle 5 flower vlan_id 5 action vlan modify id 5 priority 3 protocol 802.1ad
tc -n metro-acc6 filter add dev c1.810 ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
tc -n metro-acc6 filter add dev c2 ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
bridge -n metro-acc6 fdb add 02:5b:00:00:02:01 dev up master static vlan 4
bridge -n metro-acc6 fdb add 02:5b:00:00:02:02 dev up master static vlan 4
bridge -n metro-acc6 fdb add 02:5b:00:00:02:03 dev up master static vlan 4
bridge -n metro-acc6 fdb add 02:5b:00:00:02:03 dev up master static vlan 5
bridge -n metro-acc6 fdb add 02:5b:00:00:04:02 dev up master static vlan 6
bridge -n metro-acc6 fdb add 02:5b:00:00:04:02 dev up master static vlan 7
bridge -n metro-acc6 fdb add 02:5b:00:00:05:01 dev up master static vlan 4
bridge -n metro-acc6 fdb add 02:5b:00:00:05:02 dev up master static vlan 6
bridge -n metro-acc6 fdb add 02:5b:00:00:06:01 dev c1.810 master static vlan 6
bridge -n metro-acc6 fdb add 02:5b:00:00:06:01 dev c1.810 master static vlan 7
bridge -n metro-acc6 fdb add 02:5b:00:00:06:02 dev c2 master static vlan 4
bridge -n metro-acc6 fdb add 02:5b:00:00:07:02 dev up master static vlan 6
bridge -n metro-acc6 fdb add 02:5b:00:00:08:03 dev up master static vlan 6
bridge -n metro-acc6 fdb add 02:5b:00:01:02:02 dev up master static vlan 4
bridge -n metro-acc6 fdb add 02:5b:00:01:04:02 dev up master static vlan 6
bridge -n metro-acc6 fdb add 02:5b:00:01:04:02 dev up master static vlan 7
bridge -n metro-acc6 fdb add 02:5b:00:01:06:01 dev c1.810 master static vlan 6
bridge -n metro-acc6 fdb add 02:5b:00:01:06:01 dev c1.810 master static vlan 7
# switch acc7 (driver linux, netns metro-acc7, bridge br0): 36 to add, 0 to remove
ip -n metro-acc7 link set dev br0 type bridge vlan_protocol 802.1ad mcast_snooping 0
ip -n metro-acc7 link set dev c2 up
ip -n metro-acc7 link add link c2 name c2.820 type vlan id 820
ip -n metro-acc7 link set dev c1 master br0
ip -n metro-acc7 link set dev c1 up
bridge -n metro-acc7 link set dev c1 learning off flood off mcast_flood on
ip -n metro-acc7 link set dev c2.820 master br0
ip -n metro-acc7 link set dev c2.820 up
bridge -n metro-acc7 link set dev c2.820 learning off flood off mcast_flood on
ip -n metro-acc7 link set dev c3 master br0
ip -n metro-acc7 link set dev c3 up
bridge -n metro-acc7 link set dev c3 learning off flood off mcast_flood on
ip -n metro-acc7 link set dev up master br0
ip -n metro-acc7 link set dev up up
bridge -n metro-acc7 link set dev up learning off flood off mcast_flood on
bridge -n metro-acc7 vlan add dev c2.820 vid 6 untagged
bridge -n metro-acc7 vlan add dev c2.820 vid 7 pvid
bridge -n metro-acc7 vlan add dev c3 vid 2 pvid untagged
bridge -n metro-acc7 vlan add dev up vid 2
bridge -n metro-acc7 vlan add dev up vid 6
bridge -n metro-acc7 vlan add dev up vid 7
tc -n metro-acc7 qdisc add dev c2.820 clsact
tc -n metro-acc7 qdisc add dev c3 clsact
tc -n metro-acc7 qdisc add dev up clsact
tc -n metro-acc7 filter add dev c2.820 ingress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc7 filter add dev c2.820 egress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc7 filter add dev c3 ingress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc7 filter add dev c2.820 ingress protocol all pref 2 matchall action police rate 50000000bit burst 62500 conform-exceed drop/continue
tc -n metro-acc7 filter add dev c3 ingress protocol all pref 2 matchall action police rate 200000000bit burst 250000 conform-exceed drop/continue
tc -n metro-acc7 filter add dev up egress protocol 802.1ad pref 3 handle 2 flower vlan_id 2 action vlan modify id 2 priority 5 protocol 802.1ad
tc -n metro-acc7 filter add dev c2.820 ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
tc -n metro-acc7 filter add dev c3 ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
bridge -n metro-acc7 fdb add 02:5b:00:00:01:01 dev up master static vlan 2
bridge -n metro-acc7 fdb add 02:5b:00:00:04:02 dev up master static vlan 6
bridge -n metro-acc7 fdb add 02:5b:00:00:04:02 dev up master static vlan 7
bridge -n metro-acc7 fdb add 02:5b:00:00:05:02 dev up master static vlan 6
bridge -n metro-acc7 fdb add 02:5b:00:00:06:01 dev up master static vlan 6
bridge -n metro-acc7 fdb add 02:5b:00:00:06:01 dev up master static vlan 7
bridge -n metro-acc7 fdb add 02:5b:00:00:07:02 dev c2.820 master static vlan 6
bridge -n metro-acc7 fdb add 02:5b:00:00:07:03 dev c3 master static vlan 2
bridge -n metro-acc7 fdb add 02:5b:00:00:08:03 dev up master static vlan 6
bridge -n metro-acc7 fdb add 02:5b:00:01:04:02 dev up master static vlan 6
bridge -n metro-acc7 fdb add 02:5b:00:01:04:02 dev up master static vlan 7
bridge -n metro-acc7 fdb add 02:5b:00:01:06:01 dev up master static vlan 6
bridge -n metro-acc7 fdb add 02:5b:00:01:06:01 dev up master static vlan 7
# switch acc8 (driver linux, netns metro-acc8, bridge br0): 45 to add, 0 to remove
ip -n metro-acc8 link set dev br0 type bridge vlan_protocol 802.1ad mcast_snooping 0
ip -n metro-acc8 link set dev c2 up
ip -n metro-acc8 link add link c2 name c2.600 type vlan id 600
ip -n metro-acc8 link set dev c1 master br0
ip -n metro-acc8 link set dev c1 up
bridge -n metro-acc8 link set dev c1 learning off flood off mcast_flood on
ip -n metro-acc8 link set dev c2.600 master br0
ip -n metro-acc8 link set dev c2.600 up
bridge -n metro-acc8 link set dev c2.600 learning off flood off mcast_flood on
ip -n metro-acc8 link set dev c3 master br0
ip -n metro-acc8 link set dev c3 up
bridge -n metro-acc8 link set dev c3 learning off flood off mcast_flood on
ip -n metro-acc8 link set dev up master br0
ip -n metro-acc8 link set dev up up
bridge -n metro-acc8 link set dev up learning off flood off mcast_flood on
bridge -n metro-acc8 vlan add dev c1 vid 8 pvid untagged
bridge -n metro-acc8 vlan add dev c2.600 vid 3 pvid untagged
bridge -n metro-acc8 vlan add dev c3 vid 6 untagged
bridge -n metro-acc8 vlan add dev c3 vid 7 pvid
bridge -n metro-acc8 vlan add dev up vid 3
bridge -n metro-acc8 vlan add dev up vid 6
bridge -n metro-acc8 vlan add dev up vid 7
bridge -n metro-acc8 vlan add dev up vid 8
tc -n metro-acc8 qdisc add dev c1 clsact
tc -n metro-acc8 qdisc add dev c2.600 clsact
tc -n metro-acc8 qdisc add dev c3 clsact
tc -n metro-acc8 filter add dev c1 ingress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc8 filter add dev c2.600 ingress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc8 filter add dev c3 ingress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc8 filter add dev c3 egress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc8 filter add dev c1 ingress protocol all pref 2 matchall action police rate 100000000bit burst 125000 conform-exceed drop/continue
tc -n metro-acc8 filter add dev c2.600 ingress protocol all pref 2 matchall action police rate 500000000bit burst 625000 conform-exceed drop/continue
tc -n metro-acc8 filter add dev c3 ingress protocol all pref 2 matchall action police rate 50000000bit burst 62500 conform-exceed drop/continue
tc -n metro-acc8 filter add dev c1 ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
tc -n metro-acc8 filter add dev c2.600 ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
tc -n metro-acc8 filter add dev c3 ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
bridge -n metro-acc8 fdb add 02:5b:00:00:01:02 dev up master static vlan 8
bridge -n metro-acc8 fdb add 02:5b:00:00:01:03 dev up master static vlan 3
bridge -n metro-acc8 fdb add 02:5b:00:00:04:01 dev up master static vlan 8
bridge -n metro-acc8 fdb add 02:5b:00:00:04:02 dev up master static vlan 6
bridge -n metro-acc8 fdb add 02:5b:00:00:04:02 dev up master static vlan 7
bridge -n metro-acc8 fdb add 02:5b:00:00:05:02 dev up master static vlan 6
bridge -n metro-acc8 fdb add 02:5b:00:00:05:03 dev up master static vlan 8
bridge -n metro-acc8 fdb add 02:5b:00:00:06:01 dev up master static vlan 6
bridge -n metro-acc8 fdb add 02:5b:00:00:06:01 dev up master static vlan 7
bridge -n metro-acc8 fdb add 02:5b:00:00:07:02 dev up master static vlan 6
bridge -n metro-acc8 fdb add 02:5b:00:00:08:01 dev c1 master static vlan 8
bridge -n metro-acc8 fdb add 02:5b:00:00:08:02 dev c2.600 master static vlan 3
bridge -n metro-acc8 fdb add 02:5b:00:00:08:03 dev c3 master static vlan 6
bridge -n metro-acc8 fdb add 02:5b:00:01:04:02 dev up master static vlan 6
bridge -n metro-acc8 fdb add 02:5b:00:01:04:02 dev up master static vlan 7
bridge -n metro-acc8 fdb add 02:5b:00:01:06:01 dev up master static vlan 6
bridge -n metro-acc8 fdb add 02:5b:00:01:06:01 dev up master static vlan 7
bridge -n metro-acc8 fdb add 02:5b:00:01:08:01 dev c1 master static vlan 8
# switch acc9 (driver linux, netns metro-acc9, bridge br0): 14 to add, 0 to remove
ip -n metro-acc9 link set dev br0 type bridge vlan_protocol 802.1ad mcast_snooping 0
ip -n metro-acc9 link set dev c2 up
ip -n metro-acc9 link add link c2 name c2.9 type vlan id 9
ip -n metro-acc9 link set dev c1 master br0
ip -n metro-acc9 link set dev c1 up
bridge -n metro-acc9 link set dev c1 learning off flood off mcast_flood on
ip -n metro-acc9 link set dev c2.9 master br0
ip -n metro-acc9 link set dev c2.9 up
bridge -n metro-acc9 link set dev c2.9 learning off flood off mcast_flood on
ip -n metro-acc9 link set dev up master br0
ip -n metro-acc9 link set dev up up
bridge -n metro-acc9 link set dev up learning off flood off mcast_flood on
bridge -n metro-acc9 vlan add dev c2.9 vid 9 pvid untagged
bridge -n metro-acc9 vlan add dev up vid 9
tc -n metro-acc9 qdisc add dev c2.9 clsact
tc -n metro-acc9 filter add dev c2.9 ingress protocol 802.1ad pref 1 matchall action drop
tc -n metro-acc9 filter add dev c2.9 ingress protocol all pref 2 matchall action police rate 100000000bit burst 125000 conform-exceed drop/continue
tc -n metro-acc9 filter add dev c2.9 ingress protocol all pref 3 handle 1 flower dst_mac 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 action drop
bridge -n metro-acc9 fdb add 02:5b:00:00:01:03 dev up master static vlan 9
bridge -n metro-acc9 fdb add 02:5b:00:00:02:03 dev up master static vlan 9
bridge -n metro-acc9 fdb add 02:5b:00:00:09:02 dev c2.9 master static vlan 9
