# petrel — GNU make. `make` builds ./petrel; `make check` runs every test under prove.
# `make SANITIZE=address,undefined` builds the same under the sanitizers (in .build-san/);
# `make check SANITIZE=address,undefined` runs every test against that build.

CC      ?= cc
PKGS    := libcurl libsodium libcrypto libarchive sqlite3 jansson inih libsystemd
PKGCFG  := pkg-config
O       := .build$(if $(SANITIZE),-san)

CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wformat=2 \
	   -Wno-format-nonliteral -fno-strict-aliasing -pthread -I. \
	   $(shell $(PKGCFG) --cflags $(PKGS) 2>/dev/null)
LDLIBS  += -pthread $(shell $(PKGCFG) --libs $(PKGS) 2>/dev/null)
ifneq ($(SANITIZE),)
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif

LIB_SRC := $(sort $(wildcard common/*.c verify/*.c fetcher/*.c store/*.c deploy/*.c))
CLI_SRC := $(sort $(wildcard cli/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(O)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(O)/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/unit/%)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))

PREFIX ?= /usr/local
# `make V=1` shows the commands
Q := $(if $(V),,@)

.PHONY: all petrel deps check unit demo bench fuzz install clean lint
all: petrel

deps:
	@contrib/install-deps.sh

# ./petrel is a copy of the flavour built last (plain or sanitized), never a stale one.
petrel: $(O)/petrel
	@cmp -s $< $@ || { cp $< $@.tmp && mv -f $@.tmp $@; }

$(O)/petrel: $(CLI_OBJ) $(O)/libpetrel.a
	$(Q)$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(O)/libpetrel.a $(LDLIBS)

$(O)/libpetrel.a: $(LIB_OBJ)
	@rm -f $@
	$(Q)$(AR) rcs $@ $^

$(O)/%.o: %.c $(wildcard */*.h)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(O)/tests/unit/%: tests/unit/%.c $(O)/libpetrel.a $(wildcard */*.h)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(O)/libpetrel.a $(LDLIBS) \
		$(shell $(PKGCFG) --libs cmocka)

unit: $(UNIT_BIN)

# The banned-function grep: no unbounded string functions in our C.
lint:
	@! grep -nE '\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|sscanf|gets)[[:space:]]*\(' \
		$(LIB_SRC) $(CLI_SRC) $(wildcard */*.h) || \
		{ echo "lint: banned function above" >&2; exit 1; }

check: deps
	@$(MAKE) --no-print-directory all unit lint
	CMOCKA_MESSAGE_OUTPUT=TAP PETREL=$(CURDIR)/$(O)/petrel \
		prove --exec '' $(UNIT_BIN) $(sort $(wildcard tests/shell/t*.sh))

demo: deps
	@$(MAKE) --no-print-directory all
	@tests/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@python3 tests/bench/bench.py

fuzz: $(O)/libpetrel.a
	@mkdir -p $(O)/fuzz
	@for f in $(FUZZ_SRC); do \
		n=$$(basename $$f .c); \
		clang -g -O1 -std=c11 -D_GNU_SOURCE -pthread -fsanitize=fuzzer,address -I. $(shell $(PKGCFG) --cflags $(PKGS)) \
			-o $(O)/fuzz/$$n $$f $(LIB_SRC) $(LDLIBS) && \
		$(O)/fuzz/$$n -max_total_time=$${FUZZ_SECONDS:-30} tests/fuzz/corpus/$$n 2>&1 | tail -3; \
	done

install: petrel
	install -D -m 0755 petrel $(DESTDIR)$(PREFIX)/bin/petrel

clean:
	rm -rf .build .build-san petrel
