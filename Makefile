# petrel — GNU make. `make` builds ./petrel; `make check` runs every test under prove.
# `make SANITIZE=address,undefined` builds the same under the sanitizers (in .build-san/);
# `make check SANITIZE=address,undefined` runs every test against that build.
# `make check` also runs every libFuzzer target (tests/fuzz/) for FUZZ_SECONDS (5) each:
# clang builds them in .build-fuzz/; without clang that test fails, it never skips.
# `make fuzz FUZZ_SECONDS=600` is the long run (new inputs go to .build-fuzz/corpus/).
#
# CFLAGS, CPPFLAGS, LDFLAGS and LDLIBS are yours: `make CFLAGS=-O0` changes the
# optimisation, never the flags petrel needs (-std, -I., pkg-config's), which live in
# PETREL_CFLAGS / PETREL_LDLIBS and come first. A change of flags rebuilds everything.
# Warnings are errors with WERROR=1: `make check` and .ci/run set it, a plain `make` does
# not, so a newer compiler's new warning does not stop someone building a release.
# `make check` runs the test scripts in parallel (PROVE_JOBS, default 2 per core).
# `make check DEPS=no` (the Debian package's build) installs nothing: contrib/install-deps.sh
# is not run, and the build dependencies must be there.
# `make install` (PREFIX=/usr/local, DESTDIR) installs petrel, its adapters, the systemd
# units and timers, the man pages, the bash completion and the example configuration;
# `make uninstall` removes them again.

CC      ?= cc
PKGS    := libcurl libsodium libcrypto libarchive sqlite3 jansson inih libsystemd
PKGCFG  := pkg-config
O       := .build$(if $(FUZZ),-fuzz,$(if $(SANITIZE),-san))

CFLAGS  ?= -O2 -g
WERROR  ?=
PETREL_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wformat=2 \
	   -Wno-format-nonliteral -fno-strict-aliasing -pthread -I. \
	   $(shell $(PKGCFG) --cflags $(PKGS) 2>/dev/null)
PETREL_LDFLAGS :=
PETREL_LDLIBS  := -pthread $(shell $(PKGCFG) --libs $(PKGS) 2>/dev/null)
ifneq ($(SANITIZE),)
PETREL_CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
PETREL_LDFLAGS += -fsanitize=$(SANITIZE)
endif
ALL_CFLAGS  = $(PETREL_CFLAGS) $(if $(filter 1,$(WERROR)),-Werror) $(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(PETREL_LDFLAGS) $(LDFLAGS)
ALL_LDLIBS  = $(PETREL_LDLIBS) $(LDLIBS)
# each object also writes its header dependencies (.d), read back below
DEPFLAGS    = -MMD -MP -MF $@.d -MT $@

LIB_SRC := $(sort $(wildcard common/*.c verify/*.c fetcher/*.c store/*.c deploy/*.c))
CLI_SRC := $(sort $(wildcard cli/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(O)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(O)/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/unit/%)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=.build-fuzz/fuzz/%)
FUZZ_CC  ?= clang
FUZZ_SECONDS ?= 5

PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
ADAPTERDIR  ?= $(PREFIX)/lib/petrel/orchestrators
MANDIR      ?= $(PREFIX)/share/man
DOCDIR      ?= $(PREFIX)/share/doc/petrel
EXAMPLEDIR  ?= $(DOCDIR)
UNITDIR     ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ADAPTERS    := $(sort $(wildcard contrib/orchestrators/*))
UNIT_IN     := $(sort $(wildcard contrib/systemd/*.service.in))
TIMERS      := $(sort $(wildcard contrib/systemd/*.timer))
DEPS        ?= yes
# `make V=1` shows the commands
Q := $(if $(V),,@)

.PHONY: all petrel deps check unit demo bench fuzz fuzz-build fuzz-bins install uninstall clean lint \
	fleet-sim fleet-results FORCE
all: petrel

deps:
ifneq ($(DEPS),no)
	@contrib/install-deps.sh
endif

# ./petrel is a copy of the flavour built last (plain or sanitized), never a stale one.
petrel: $(O)/petrel
	@cmp -s $< $@ || { cp $< $@.tmp && mv -f $@.tmp $@; }

$(O)/petrel: $(CLI_OBJ) $(O)/libpetrel.a
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(CLI_OBJ) $(O)/libpetrel.a $(ALL_LDLIBS)

$(O)/libpetrel.a: $(LIB_OBJ)
	@rm -f $@
	$(Q)$(AR) rcs $@ $^

$(O)/%.o: %.c $(O)/FLAGS
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(O)/tests/unit/%: tests/unit/%.c $(O)/libpetrel.a $(O)/FLAGS
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) $(DEPFLAGS) $(ALL_LDFLAGS) -o $@ $< $(O)/libpetrel.a \
		$(ALL_LDLIBS) $(shell $(PKGCFG) --libs cmocka)

# $(O)/FLAGS holds the compiler and flags in use; it changes (and so rebuilds every
# object) only when they do. -Werror is left out: it changes no object.
TRACK_FLAGS = $(subst ','\'',$(CC) $(PETREL_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(ALL_LDFLAGS) $(ALL_LDLIBS))
$(O)/FLAGS: FORCE
	@mkdir -p $(dir $@)
	@if [ x'$(TRACK_FLAGS)' != x"$$(cat $@ 2>/dev/null)" ]; then echo '$(TRACK_FLAGS)' >$@; fi
FORCE:

-include $(wildcard $(O)/*/*.d $(O)/tests/unit/*.d $(O)/tests/fleet/*.d $(O)/fuzz/*.d)

unit: $(UNIT_BIN)

# tests/fleet/sim: the real scheduling and bucket code (libpetrel.a) for 10,000 hosts over
# simulated days. `make fleet-sim` prints its report, `make fleet-results` rewrites
# tests/fleet/RESULTS.md; tests/shell/t1961-fleet-sim.sh checks its goals in `make check`.
FLEET_SIM := $(O)/tests/fleet/sim
$(FLEET_SIM): tests/fleet/sim.c $(O)/libpetrel.a $(O)/FLAGS
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) $(DEPFLAGS) $(ALL_LDFLAGS) -o $@ $< $(O)/libpetrel.a \
		$(ALL_LDLIBS) -lm

fleet-sim: $(FLEET_SIM)
	@$(FLEET_SIM) --interval 3600 && echo && $(FLEET_SIM) --interval 600

fleet-results: $(FLEET_SIM)
	@{ echo "## Fleet simulation (tests/fleet/sim, \`make fleet-results\`)"; echo; \
	   $(FLEET_SIM) --markdown --interval 3600; echo; \
	   $(FLEET_SIM) --markdown --interval 600; } >tests/fleet/RESULTS.md.tmp && \
	mv tests/fleet/RESULTS.md.tmp tests/fleet/RESULTS.md

# The lint: no unbounded string functions in our C; cli/ reaches the server only through deploy/
lint:
	@! grep -nE '\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|sscanf|gets)[[:space:]]*\(' \
		$(LIB_SRC) $(CLI_SRC) $(wildcard */*.h) || \
		{ echo "lint: banned function above" >&2; exit 1; }
	@! grep -n '#include "fetcher/' $(CLI_SRC) $(wildcard cli/*.h) || \
		{ echo "lint: cli/ calls deploy/, never fetcher/ (above)" >&2; exit 1; }
	@python3 tests/lint/no-cycles.py $(LIB_SRC) $(CLI_SRC) || \
		{ echo "lint: two files call each other in a circle (above)" >&2; exit 1; }

# Every test script makes its own temporary directory and port-0 servers, so prove runs
# them side by side; the slowest start first, so that none of them starts last.
PROVE_JOBS ?= $(shell echo $$((2 * $$(nproc 2>/dev/null || echo 1))))
PROVEFLAGS ?=
SLOW_TESTS := tests/shell/t0800-crash.sh tests/shell/t1000-daemon.sh \
	tests/shell/t0801-crash-faults.sh tests/shell/t0200-hostile-server.sh \
	tests/shell/t1600-install.sh tests/shell/t1800-fuzz-smoke.sh
TESTS := $(SLOW_TESTS) $(UNIT_BIN) \
	$(filter-out $(SLOW_TESTS),$(sort $(wildcard tests/shell/t*.sh)))

# The tests call python3 hundreds of times; a version manager's shim (pyenv's) costs a
# few processes per call, so the interpreter's own directory goes first in PATH.
PYTHON_DIR = $(shell python3 -c 'import os, sys; print(os.path.dirname(sys.executable))' 2>/dev/null)

check: deps
	@$(MAKE) --no-print-directory WERROR=$(or $(WERROR),1) all unit lint $(FLEET_SIM)
	@$(MAKE) --no-print-directory fuzz-build
	$(if $(PYTHON_DIR),PATH="$(PYTHON_DIR):$$PATH") \
	CMOCKA_MESSAGE_OUTPUT=TAP PETREL=$(CURDIR)/$(O)/petrel FUZZ_SECONDS=$(FUZZ_SECONDS) \
		prove -j$(PROVE_JOBS) $(PROVEFLAGS) --exec '' $(TESTS)

demo: deps
	@$(MAKE) --no-print-directory all
	@tests/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@python3 tests/bench/bench.py

# The libFuzzer targets: the library (and cli/config.c, which fuzz_config needs) built
# again by clang in .build-fuzz/ with coverage, ASan and UBSan; the build's own flags,
# never the caller's CFLAGS (a package build's hardening flags are not for libFuzzer).
# tests/shell/t1800-fuzz-smoke.sh runs each for FUZZ_SECONDS; `make fuzz` too, keeping
# what it finds in .build-fuzz/corpus/TARGET (the checked-in seeds stay as they are) and
# a crashing input in .build-fuzz/crashes/. FUZZ_TARGETS picks some: fuzz_sig fuzz_config.
fuzz-build:
	@command -v $(FUZZ_CC) >/dev/null || \
		{ echo "fuzz: $(FUZZ_CC) not found: the fuzz targets need clang and libclang-rt-dev" >&2; exit 1; }
	@$(MAKE) --no-print-directory FUZZ=1 CC=$(FUZZ_CC) SANITIZE=fuzzer-no-link,address,undefined \
		CFLAGS='-g -O1' CPPFLAGS= LDFLAGS= LDLIBS= WERROR= fuzz-bins

ifneq ($(FUZZ),)
fuzz-bins: $(FUZZ_BIN)

$(O)/fuzz/%: tests/fuzz/%.c $(O)/libpetrel.a $(O)/cli/config.o $(O)/FLAGS
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer $(DEPFLAGS) $(ALL_LDFLAGS) -o $@ $< \
		$(if $(filter fuzz_config,$*),$(O)/cli/config.o) $(O)/libpetrel.a $(ALL_LDLIBS)
endif

FUZZ_TARGETS ?= $(FUZZ_SRC:tests/fuzz/%.c=%)
fuzz: deps fuzz-build
	@mkdir -p .build-fuzz/crashes
	@for n in $(FUZZ_TARGETS); do \
		mkdir -p .build-fuzz/corpus/$$n && \
		echo "fuzz: $$n for $(FUZZ_SECONDS) s" && \
		{ .build-fuzz/fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 \
			-artifact_prefix=.build-fuzz/crashes/$$n- \
			.build-fuzz/corpus/$$n tests/fuzz/corpus/$$n >.build-fuzz/$$n.log 2>&1; rc=$$?; } ; \
		grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY)' .build-fuzz/$$n.log; \
		[ $$rc = 0 ] || { echo "fuzz: $$n failed: .build-fuzz/$$n.log" >&2; exit 1; }; \
	done

# The units are templates: @BINDIR@ becomes where petrel is installed. The example
# configuration names the adapters where this installation puts them.
install: petrel
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(ADAPTERDIR) $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(EXAMPLEDIR) $(DESTDIR)$(BASHCOMPDIR)
	install -m 0755 petrel $(DESTDIR)$(BINDIR)/petrel
	install -m 0755 $(ADAPTERS) $(DESTDIR)$(ADAPTERDIR)/
	for u in $(UNIT_IN); do \
		sed 's|@BINDIR@|$(BINDIR)|g' $$u >$(DESTDIR)$(UNITDIR)/$$(basename $$u .in) && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$(basename $$u .in) || exit 1; \
	done
	install -m 0644 $(TIMERS) $(DESTDIR)$(UNITDIR)/
	install -m 0644 contrib/petrel.8 $(DESTDIR)$(MANDIR)/man8/petrel.8
	install -m 0644 contrib/petrel.conf.5 $(DESTDIR)$(MANDIR)/man5/petrel.conf.5
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	sed 's|/usr/lib/petrel/orchestrators/|$(ADAPTERDIR)/|g' contrib/petrel.conf.example \
		>$(DESTDIR)$(EXAMPLEDIR)/petrel.conf.example
	chmod 0644 $(DESTDIR)$(EXAMPLEDIR)/petrel.conf.example
	install -m 0644 contrib/completion/petrel.bash $(DESTDIR)$(BASHCOMPDIR)/petrel

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/petrel $(DESTDIR)$(BASHCOMPDIR)/petrel \
		$(ADAPTERS:contrib/orchestrators/%=$(DESTDIR)$(ADAPTERDIR)/%) \
		$(UNIT_IN:contrib/systemd/%.in=$(DESTDIR)$(UNITDIR)/%) \
		$(TIMERS:contrib/systemd/%=$(DESTDIR)$(UNITDIR)/%) \
		$(DESTDIR)$(MANDIR)/man8/petrel.8 $(DESTDIR)$(MANDIR)/man5/petrel.conf.5 \
		$(DESTDIR)$(DOCDIR)/README.md $(DESTDIR)$(EXAMPLEDIR)/petrel.conf.example
	rmdir $(DESTDIR)$(ADAPTERDIR) $(DESTDIR)$(patsubst %/,%,$(dir $(ADAPTERDIR))) \
		$(DESTDIR)$(EXAMPLEDIR) $(DESTDIR)$(DOCDIR) 2>/dev/null || true

clean:
	rm -rf .build .build-san .build-fuzz petrel
