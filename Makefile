# vmon — build, test and run. See README.md.
#   make run     install missing build deps, build vmon + the default guest, boot it
#   make check   install, build, run every test layer
#   make bench   benchmarks side by side with QEMU

CC ?= cc
BUILD ?= build
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wshadow -Wstrict-prototypes -Wmissing-prototypes -fno-strict-aliasing -Isrc -MMD -MP
CFLAGS += $(CFLAGS_BASE)
LDLIBS += -lpthread -lm -latomic -luring
# libslirp (--net user): its headers at build time; at run time net_slirp.c opens libslirp.so.0
# with dlopen on first use, so a vmon without --net user never maps libslirp or GLib. Debian's
# slirp.pc requires glib-2.0.pc, which only libglib2.0-dev has; without it the default include
# path has <slirp/libslirp.h>.
SLIRP_CFLAGS := $(shell pkg-config --cflags slirp 2>/dev/null)
LDLIBS += -ldl

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
CFLAGS += -DVMON_VERSION='"$(VERSION)"' -DVMON_GIT_REV='"$(GIT_REV)"'

MAIN_SRC := src/cli/main.c
# net_slirp_none.c stands in for net_slirp.c in the static vmon only (there is no static libslirp).
SLIRP_NONE_SRC := src/backend/net_slirp_none.c
LIB_SRC := $(filter-out $(MAIN_SRC) $(SLIRP_NONE_SRC),$(shell find src -name '*.c' | sort))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ := $(MAIN_SRC:%.c=$(BUILD)/obj/%.o)

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_HELPERS := $(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)

PYTHON ?= /usr/bin/python3

.PHONY: all build deps run check unit guests guest-tests integration bench clean fmt fmt-check default-guest
all: build
build: $(BUILD)/vmon

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libvmon.a: $(LIB_OBJ)
	@rm -f $@
	@ar rcsT $@ $^

$(BUILD)/vmon: $(MAIN_OBJ) $(BUILD)/libvmon.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# A fully static vmon, for running inside minimal guests (the nested-KVM integration test). It
# has no libslirp (Debian ships no static one): net_slirp_none.o, linked before the archive,
# provides the net_slirp_* symbols, so net_slirp.o is never pulled in (--net user then fails
# with a clear reason; tap works).
$(BUILD)/vmon-static: $(MAIN_OBJ) $(BUILD)/obj/$(SLIRP_NONE_SRC:.c=.o) $(BUILD)/libvmon.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -static -o $@ $^ $(LDFLAGS) $(filter-out -ldl,$(LDLIBS))

$(BUILD)/obj/src/backend/net_slirp.o: CFLAGS += $(SLIRP_CFLAGS)
$(BUILD)/fuzz/obj/src/backend/net_slirp.o: FUZZ_CFLAGS += $(SLIRP_CFLAGS)

# Host-side virtio-blk microbenchmark (a fake queue from tests/unit/virtq_builder.h, no guest; not
# run by `make bench`).
$(BUILD)/bench/blk_host: bench/blk_host.c tests/unit/virtq_builder.h $(BUILD)/libvmon.a
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	@$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libvmon.a $(LDFLAGS) $(LDLIBS)

# Unit tests: each tests/unit/test_X.c links against libvmon.a and cmocka.
$(BUILD)/tests/unit/%: tests/unit/%.c $(UNIT_HELPERS) $(BUILD)/libvmon.a
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	@$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(UNIT_HELPERS) $(BUILD)/libvmon.a $(LDLIBS) -lcmocka

deps:
	@bash mk/deps.sh build

unit: $(UNIT_BIN)
	@bash tests/run-unit.sh $(UNIT_BIN)

guests:
	@$(MAKE) --no-print-directory -C tests/guests BUILD=$(abspath $(BUILD))/guests

guest-tests: build guests
	@bash tests/run-guests.sh $(BUILD)

default-guest:
	@bash guest/build.sh $(BUILD)/guest

integration: build $(BUILD)/vmon-static guests default-guest
	@bash tests/run-integration.sh $(BUILD)

check: deps
	@$(MAKE) --no-print-directory build $(BUILD)/vmon-static guests default-guest
	@bash tests/check.sh $(BUILD)

run: deps
	@$(MAKE) --no-print-directory build default-guest
	$(BUILD)/vmon run --kernel $(BUILD)/guest/vmlinuz --initrd $(BUILD)/guest/initrd.cpio.gz \
		--cmdline "$$(cat $(BUILD)/guest/cmdline)" --mem 512M $(RUN_ARGS)

bench: deps
	@$(MAKE) --no-print-directory build $(BUILD)/vmon-static guests default-guest $(BUILD)/bench/blk_host
	@bash bench/run.sh $(BUILD)

# tests/guests keeps its own layout (inline assembly tables); both targets cover the same files.
FMT_FILES = $$(find src tests -name '*.[ch]' -not -path 'tests/guests/*')
fmt:
	clang-format -i $(FMT_FILES)

fmt-check:
	@clang-format --dry-run -Werror $(FMT_FILES)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj $(BUILD)/tests -name '*.d' 2>/dev/null)

# ---- fuzz: libFuzzer harnesses with ASan + UBSan (layer 4; see fuzz/README.md) ------------------
# Every src/ file but src/cli/main.c is compiled again with clang and the sanitizers into
# $(BUILD)/fuzz/libvmon-fuzz.a (objects under $(BUILD)/fuzz/obj, never the gcc ones); each
# fuzz/fuzz_X.c links against it into $(BUILD)/fuzz/fuzz_X. `make fuzz` builds the harnesses,
# `make fuzz-run` also runs each for FUZZ_SECONDS (default 10) through tests/run-fuzz.sh.
# The library is built without -Werror: clang warns about things gcc accepts in code that is not
# ours to change here; the harnesses themselves build with -Werror. The virtio harnesses drive
# their queues with the unit tests' tests/unit/virtq_builder.h.
FUZZ_CC ?= clang
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
# EMU_REP_CHUNK: emu's REP string instructions yield every 32 iterations instead of 1024, so a
# fuzzed REP with a huge count costs little and the chunk boundary is exercised often.
FUZZ_CFLAGS := $(filter-out -O2 -Werror,$(CFLAGS_BASE)) -O1 -fno-omit-frame-pointer \
	-Wno-gnu-variable-sized-type-not-at-end $(FUZZ_SAN) -DEMU_REP_CHUNK=32u \
	-DVMON_VERSION='"$(VERSION)"' -DVMON_GIT_REV='"$(GIT_REV)"'
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/fuzz/obj/%.o)
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzz/%)

.PHONY: fuzz fuzz-run
fuzz: $(FUZZ_BIN)

fuzz-run: fuzz
	@bash tests/run-fuzz.sh $(BUILD) $(FUZZ_SECONDS)

$(FUZZ_LIB_OBJ): $(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(BUILD)/fuzz/libvmon-fuzz.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	@ar rcs $@ $^

$(FUZZ_BIN): $(BUILD)/fuzz/%: fuzz/%.c $(BUILD)/fuzz/libvmon-fuzz.a
	@mkdir -p $(dir $@)
	@echo "  FUZZLD  $@"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -fsanitize=fuzzer -Ifuzz -Itests/unit -o $@ $< \
		$(BUILD)/fuzz/libvmon-fuzz.a $(LDLIBS)

-include $(shell find $(BUILD)/fuzz -name '*.d' 2>/dev/null)
# ---- end of fuzz ---------------------------------------------------------------------------------

# ---- cross-check: the emu core and its unit tests for aarch64, run under qemu-aarch64 ------------
# The emulator must be portable C (no host-x86 assumptions). `make cross-check` installs the
# cross tool chain (mk/deps.sh cross: gcc-aarch64-linux-gnu, qemu-user, libcmocka-dev:arm64 from
# Debian multiarch), builds the emu core (src/accel/emu/*.c without vm/, the vCPU state and the
# CPUID policy) with aarch64-linux-gnu-gcc and the same warnings and -Werror into
# $(BUILD)/cross/libemu.a, links each tests/unit/test_emu_*.c against it, and runs every test
# binary under qemu-aarch64 through tests/run-cross.sh (it appends "cross P F" to $VMON_RESULTS).
# `make cross-build` only builds. On a host that is not x86-64 the check is skipped with a reason.
CROSS_CC ?= aarch64-linux-gnu-gcc
CROSS_AR ?= aarch64-linux-gnu-ar
CROSS_SRC := $(sort $(wildcard src/accel/emu/*.c)) src/arch/x86/cpu_state.c src/arch/x86/cpuid.c
CROSS_OBJ := $(CROSS_SRC:%.c=$(BUILD)/cross/obj/%.o)
CROSS_TEST_SRC := $(sort $(wildcard tests/unit/test_emu_*.c))
CROSS_TEST_BIN := $(CROSS_TEST_SRC:tests/unit/%.c=$(BUILD)/cross/tests/%)

.PHONY: cross-build cross-check
cross-build: $(CROSS_TEST_BIN)

cross-check:
	@if [ "$$(uname -m)" = x86_64 ]; then bash mk/deps.sh cross; fi
	@bash tests/run-cross.sh $(BUILD)

$(CROSS_OBJ): $(BUILD)/cross/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  XCC     $<"
	@$(CROSS_CC) $(CFLAGS_BASE) -c $< -o $@

$(BUILD)/cross/libemu.a: $(CROSS_OBJ)
	@rm -f $@
	@$(CROSS_AR) rcs $@ $^

$(CROSS_TEST_BIN): $(BUILD)/cross/tests/%: tests/unit/%.c $(UNIT_HELPERS) $(BUILD)/cross/libemu.a
	@mkdir -p $(dir $@)
	@echo "  XCCLD   $@"
	@$(CROSS_CC) $(CFLAGS_BASE) -Itests/unit -o $@ $< $(UNIT_HELPERS) $(BUILD)/cross/libemu.a \
		-lpthread -lm -latomic -lcmocka

-include $(shell find $(BUILD)/cross -name '*.d' 2>/dev/null)
# ---- end of cross-check --------------------------------------------------------------------------
