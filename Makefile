# qhv: the two commands a newcomer needs are `make run` and `make check`.
BUILD ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
BUILD_WIN ?= build-win
JOBS ?= 2
FUZZ_SECONDS ?= 600
CTEST_FLAGS ?= --output-on-failure -j2

.PHONY: all deps-run deps-test build build-asan build-fuzz build-win run check unit fuzz bench bench-keystone bench-hyperv bench-agents bench-ovs bench-conn bench-nova bench-dhcp bench-pg bench-neutron-pg demo clean

all: build

deps-run:
	@scripts/deps.sh run

deps-test:
	@scripts/deps.sh test

build: deps-run
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQHV_WERROR=ON \
	  -DQHV_WIN_BUILD_DIR=$(abspath $(BUILD_WIN)) >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

build-asan:
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DQHV_WERROR=ON -DQHV_SANITIZE=ON >/dev/null
	cmake --build $(BUILD_ASAN) -j$(JOBS)

build-fuzz:
	CC=clang cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=Debug -DQHV_WERROR=ON -DQHV_FUZZ=ON >/dev/null
	cmake --build $(BUILD_FUZZ) -j$(JOBS)

# qhv-agent.exe for Windows, cross-compiled with mingw-w64 (docs/windows.md);
# api.test_windows_agent runs it under Wine.
build-win:
	cmake -S . -B $(BUILD_WIN) -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64.cmake \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQHV_WERROR=ON >/dev/null
	cmake --build $(BUILD_WIN) -j$(JOBS)

# Starts qhv-server on 127.0.0.1:9696 with its SQLite database in ./var.
run: build
	@mkdir -p var
	@[ -f var/qhv.conf ] || cp etc/qhv-server.conf.sample var/qhv.conf
	@echo "qhv-server: http://127.0.0.1:9696  (config var/qhv.conf, database var/qhv.sqlite)"
	@echo "Point the openstack CLI at it (noauth, admin of fake_project_id):"
	@echo "  export OS_AUTH_TYPE=none OS_ENDPOINT=http://127.0.0.1:9696"
	@echo "  openstack network create demo && openstack subnet create --network demo --subnet-range 10.0.0.0/24 demo-v4"
	@echo "  openstack port create --network demo p1 && openstack port list"
	@echo "Stop with Ctrl-C."
	exec $(BUILD)/src/qhv-server --config-file var/qhv.conf

# Everything CI runs: unit + API + real-client tests on the normal build
# (with qhv-agent.exe under Wine), the same again under ASan+UBSan, and a
# short libFuzzer run.
check: deps-test build build-asan build-fuzz build-win
	cd $(BUILD) && ctest $(CTEST_FLAGS)
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 ctest $(CTEST_FLAGS)
	cd $(BUILD_FUZZ) && ctest $(CTEST_FLAGS) -R '^fuzz\.'

unit: build
	cd $(BUILD) && ctest $(CTEST_FLAGS) -R '^unit\.'

# Longer fuzzing on demand: make fuzz FUZZ_SECONDS=3600
fuzz: deps-test build-fuzz
	@mkdir -p $(BUILD_FUZZ)/corpus
	for f in $(BUILD_FUZZ)/tests/fuzz/fuzz_*; do \
	  n=$$(basename $$f); mkdir -p $(BUILD_FUZZ)/corpus/$$n; \
	  $$f -max_total_time=$(FUZZ_SECONDS) $(BUILD_FUZZ)/corpus/$$n tests/fuzz/corpus/$$n || exit 1; \
	done

bench: build
	$(BUILD)/bench/qhv-bench --server $(BUILD)/src/qhv-server

# Port creates/s with auth_strategy = keystone (warm cache) vs noauth, and the
# cost of a cold token validation, against a local Keystone (needs the test
# dependencies: scripts/deps.sh test).
bench-keystone: build
	/usr/bin/python3 bench/keystone-bench.py --build $(BUILD)

# From a VM's NIC appearing to Nova receiving network-vif-plugged: 200 ports,
# 10 dummy agents, the real nova-api behind a local Keystone (needs the test
# dependencies: scripts/deps.sh test). NOVA_BENCH_FLAGS="--intervals 2,1,0".
bench-nova: build deps-test
	/usr/bin/python3 bench/nova_bench.py --build $(BUILD) $(NOVA_BENCH_FLAGS)

# WMI calls per operation of the hyperv backend, on the strict WMI model.
bench-hyperv: build
	$(BUILD)/bench/qhv-bench-hyperv

bench-agents: build
	/usr/bin/python3 bench/agents_bench.py --build $(BUILD)

# A crowd of connections: GETs timed while 5,000 idle connections and 2,000
# long-polls are held; closed long-polls released, idle ones dropped.
bench-conn: build
	/usr/bin/python3 bench/conn_flood.py --build $(BUILD)

# 1,000 ports on one Open vSwitch host (userspace datapath in a namespace;
# root): create->ACTIVE p50/p99, a resync of unchanged ports, agent CPU/RSS.
bench-ovs: deps-test build
	/usr/bin/python3 bench/ovs_bench.py --build $(BUILD)

# A network node: create -> DHCP offer latency at 1,000 ports, dnsmasq
# reloads/s, RSS and CPU per served network (root; docs/network-node.md).
bench-dhcp: deps-test build
	/usr/bin/python3 bench/dhcp_bench.py --build $(BUILD)

# qhv-server on a throwaway PostgreSQL: creates/s and CPU per create with one
# server and with three on one database, fan-out from one server to agents
# watching on the others, GET of 10,000 ports, SQLite alongside
# (docs/benchmarks.md, "PostgreSQL and several servers"). PG_BENCH_FLAGS="--split 16".
bench-pg: deps-test build
	/usr/bin/python3 bench/pg_bench.py --build $(BUILD) $(PG_BENCH_FLAGS)

# Debian's neutron-server 21 next to qhv-server on the same throwaway PostgreSQL,
# the same client: creates/s and CPU per create, qhv/Neutron (neutron-server
# installed by hand: bench/neutron_pg.py says how).
bench-neutron-pg: deps-test build
	/usr/bin/python3 bench/neutron_pg.py --build $(BUILD) $(NEUTRON_PG_FLAGS)

# The Open vSwitch backend end to end with real packets (root): README.
demo: deps-test build
	/usr/bin/python3 scripts/demo.py --build $(BUILD) $(DEMO_ARGS)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) $(BUILD_WIN)
