# ephemeral — build, install and test. `make` builds build/ephemeral and
# build/ephemeral-sweep; `make check` runs every test (see README.md).
VERSION     := 0.1.0
BUILD       ?= build
PREFIX      ?= /usr
BINDIR      ?= $(PREFIX)/bin
DATADIR     ?= $(PREFIX)/share
DRACUTDIR   ?= /usr/lib/dracut/modules.d/90ephemeral
INITCPIODIR ?= /usr/lib/initcpio
UNITDIR     ?= /usr/lib/systemd/system
SHUTDOWNDIR ?= /usr/lib/systemd/system-shutdown
TMPFILESDIR ?= /usr/lib/tmpfiles.d
INITRAMFSTOOLSDIR ?= /usr/share/initramfs-tools
PKGLIBDIR   ?= $(PREFIX)/lib/ephemeral
MANDIR      ?= $(DATADIR)/man
SYSCONFDIR  ?= /etc
PACMANHOOKDIR ?= /usr/share/libalpm/hooks
DESTDIR     ?=

CC      ?= cc
PKGS    := libkmod blkid
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter -D_GNU_SOURCE -DVERSION='"$(VERSION)"' -Isrc -MMD -MP
ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libkmod is not linked: src/shared/modload.c opens it with dlopen when a module must
# be loaded (linked, it and its libcrypto cost every start ~4 ms). Its path here,
# asked of the compiler, goes into the binary and into the image hooks (@LIBKMOD@).
LIBKMOD_FOUND := $(shell $(CC) -print-file-name=libkmod.so.2 2>/dev/null)
LIBKMOD_SO := $(if $(findstring /,$(LIBKMOD_FOUND)),$(abspath $(LIBKMOD_FOUND)),libkmod.so.2)
CFLAGS  += -DLIBKMOD_SO='"$(LIBKMOD_SO)"'
LINK_LIBS  = $(shell pkg-config --libs blkid)

# The layers, lowest first (docs/ARCHITECTURE.md): shared/ helpers, config/ (keys,
# state, store), merge/ (the engine), sweep/, boot/ (what mount does), shutdown/
# (where flush merges to), cmd/ (thin commands). tests/lint.sh checks that no include
# runs upward.
LAYERS     := shared config merge checkpoint sweep boot shutdown
# The sweeper links libc only (it runs in the real system, not in the initramfs):
# the libc-only helpers, the configuration, the sweep layer and its command.
SWEEP_LIBC := src/shared/log.c src/shared/util.c src/config/config.c src/config/keys.c \
              src/config/parse.c src/config/values.c
LIB_SRCS   := $(foreach l,$(LAYERS),$(wildcard src/$(l)/*.c)) \
              $(filter-out src/cmd/ephemeral.c src/cmd/ephemeral-sweep.c,$(wildcard src/cmd/*.c))
LIB_OBJS   := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS))
SWEEP_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(SWEEP_LIBC) $(wildcard src/sweep/*.c) \
              src/cmd/sweep.c src/cmd/ephemeral-sweep.c)
# Unit tests mirror src/ (tests/unit/<layer>/test-*.c); each builds to build/tests/test-*.
UNIT_SRCS  := $(wildcard tests/unit/test-*.c tests/unit/*/test-*.c)
UNIT_BINS  := $(addprefix $(BUILD)/tests/,$(notdir $(UNIT_SRCS:.c=)))
vpath test-%.c $(sort $(dir $(UNIT_SRCS)))

all: $(BUILD)/ephemeral $(BUILD)/ephemeral-sweep

$(BUILD)/.deps-ok:
	@mkdir -p $(BUILD)
	@pkg-config --exists $(PKGS) || tests/deps.sh build
	@touch $@

$(BUILD)/%.o: %.c $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(BUILD)/libephemeral.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/ephemeral: $(BUILD)/src/cmd/ephemeral.o $(BUILD)/libephemeral.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LINK_LIBS)

$(BUILD)/ephemeral-sweep: $(SWEEP_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^

$(BUILD)/tests/test-%: test-%.c tests/lib/test.h $(BUILD)/libephemeral.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -Itests/lib $(LDFLAGS) -o $@ $< $(BUILD)/libephemeral.a \
		$(LINK_LIBS)

unit-bins: $(UNIT_BINS) $(BUILD)/tests/manifest $(BUILD)/tests/godown

# Fuzz harnesses (clang's libFuzzer, ASan, UBSan) over the libc-only code that reads
# untrusted text: the sweeper's set plus the state file. tests/integration/test-fuzz.sh
# runs them on tests/fuzz/corpus/ for a bounded time.
FUZZ_CC    ?= clang
FUZZ_SRCS  := $(sort $(SWEEP_LIBC) src/config/state.c)
FUZZ_FLAGS := -std=gnu11 -D_GNU_SOURCE -DVERSION='"$(VERSION)"' -Isrc -g -O1 \
              -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_BINS  := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz-*.c))

fuzz: $(FUZZ_BINS)

$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_SRCS) $(wildcard src/shared/*.h src/config/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(FUZZ_SRCS)

# Test tools (tree manifests for comparisons; godown, the ext4 shutdown ioctl for
# the power-loss test): libc only and static, so they can be copied into a test VM;
# never built with the sanitizers.
$(BUILD)/tests/manifest: tests/lib/manifest.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -std=gnu11 -Wall -Wextra -Werror -static -o $@ $<

$(BUILD)/tests/godown: tests/lib/godown.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -std=gnu11 -Wall -Wextra -Werror -static -o $@ $<

# Every test: unit (plain and ASan/UBSan), integration (real mounts, unshare -m),
# end-to-end (QEMU boots). Installs its own apt dependencies.
check:
	tests/run all

# Unit + integration only (no QEMU).
check-fast:
	tests/run unit integration

# DEMO=initramfs-tools: the Debian way (the .deb on a system with initramfs-tools).
demo:
	DEMO=$(DEMO) tests/e2e/demo.sh

vm:
	tests/e2e/demo.sh --shell

# The documents generated from the table of keys (src/config/keys.c); tests/lint.sh
# fails when they differ from it.
docs: $(BUILD)/ephemeral
	tests/gen-docs.sh $(BUILD)/ephemeral

# `make -s print-VAR` prints a variable (the tests ask for LIBKMOD_SO).
print-%:
	@echo '$($*)'

bench: all
	bench/run

lint:
	shellcheck -x $$(git ls-files '*.sh' tests/run tests/deps.sh bench/run .ci/run 'initcpio/*' 'initramfs-tools/*' 'runtime/*' | \
		grep -v -e '\.service$$' -e '\.timer$$' -e '\.tmpfiles$$' -e '\.example$$' -e '\.hook$$' \
			-e '\.actions*$$' -e '^runtime/apt/' | sort -u)
	clang-format --dry-run --Werror $$(git ls-files 'src/*.c' 'src/*.h' 'tests/unit/*.c' 'tests/unit/*/*.c' 'tests/lib/*.h')

# Runtime files name the binary as @BINDIR@/ephemeral and our helper scripts'
# directory as @PKGLIBDIR@; install substitutes the real dirs.
# $(call subst_install,MODE,SRC,DEST)
subst_install = sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@PKGLIBDIR@|$(PKGLIBDIR)|g' \
	-e 's|@LIBKMOD@|$(LIBKMOD_SO)|g' $(2) > $(BUILD)/.subst.$$$$ && \
	install -Dm$(1) $(BUILD)/.subst.$$$$ $(3) && rm -f $(BUILD)/.subst.$$$$

# `make install` installs everything; packagers pick what fits: install-bin (the
# binaries, man pages, example config) plus one target per initramfs generator and
# per init system.
INSTALL_PARTS := install-bin install-dracut install-initcpio install-initramfs-tools \
	install-systemd install-openrc install-runit install-pm-hooks
install: $(INSTALL_PARTS)

install-bin: all
	install -Dm755 $(BUILD)/ephemeral $(DESTDIR)$(BINDIR)/ephemeral
	install -Dm755 $(BUILD)/ephemeral-sweep $(DESTDIR)$(BINDIR)/ephemeral-sweep
	install -Dm644 man/ephemeral.8 $(DESTDIR)$(MANDIR)/man8/ephemeral.8
	install -Dm644 man/ephemeral-sweep.8 $(DESTDIR)$(MANDIR)/man8/ephemeral-sweep.8
	install -Dm644 man/ephemeral.conf.5 $(DESTDIR)$(MANDIR)/man5/ephemeral.conf.5
	if [ -f runtime/ephemeral.conf.example ]; then \
		install -Dm644 runtime/ephemeral.conf.example $(DESTDIR)$(DATADIR)/doc/ephemeral/ephemeral.conf.example; fi

install-dracut:
	@mkdir -p $(BUILD)
	for f in $(wildcard dracut/90ephemeral/*); do $(call subst_install,755,$$f,$(DESTDIR)$(DRACUTDIR)/$${f##*/}); done

install-initcpio:
	@mkdir -p $(BUILD)
	for f in $(wildcard initcpio/install/* initcpio/hooks/*); do \
		$(call subst_install,644,$$f,$(DESTDIR)$(INITCPIODIR)/$${f#initcpio/}); done
	$(call subst_install,755,initcpio/ephemeral-shutdown,$(DESTDIR)$(INITCPIODIR)/ephemeral-shutdown)
	$(call subst_install,644,initcpio/ephemeral-initrd-mount.service,$(DESTDIR)$(UNITDIR)/ephemeral-initrd-mount.service)
	install -Dm644 initcpio/ephemeral-mkinitcpio.tmpfiles $(DESTDIR)$(TMPFILESDIR)/ephemeral-mkinitcpio.conf

# The build hook and boot script, and (systemd) the unit that builds a shutdown root
# at boot, enabled statically like dracut-shutdown.service.
install-initramfs-tools:
	@mkdir -p $(BUILD)
	$(call subst_install,755,initramfs-tools/hooks/ephemeral,$(DESTDIR)$(INITRAMFSTOOLSDIR)/hooks/ephemeral)
	$(call subst_install,755,initramfs-tools/scripts/init-bottom/ephemeral,$(DESTDIR)$(INITRAMFSTOOLSDIR)/scripts/init-bottom/ephemeral)
	$(call subst_install,755,initramfs-tools/shutdown-root,$(DESTDIR)$(PKGLIBDIR)/shutdown-root)
	$(call subst_install,755,initramfs-tools/shutdown,$(DESTDIR)$(PKGLIBDIR)/shutdown)
	$(call subst_install,644,initramfs-tools/ephemeral-shutdown-root.service,$(DESTDIR)$(UNITDIR)/ephemeral-shutdown-root.service)
	install -d $(DESTDIR)$(UNITDIR)/sysinit.target.wants
	ln -sf ../ephemeral-shutdown-root.service $(DESTDIR)$(UNITDIR)/sysinit.target.wants/ephemeral-shutdown-root.service

install-systemd:
	@mkdir -p $(BUILD)
	for f in $(wildcard runtime/systemd/*.service runtime/systemd/*.timer); do \
		$(call subst_install,644,$$f,$(DESTDIR)$(UNITDIR)/$${f##*/}); done
	for f in $(wildcard runtime/system-shutdown/*); do \
		$(call subst_install,755,$$f,$(DESTDIR)$(SHUTDOWNDIR)/$${f##*/}); done

install-openrc:
	@mkdir -p $(BUILD)
	for f in $(wildcard runtime/openrc/*); do \
		$(call subst_install,755,$$f,$(DESTDIR)$(SYSCONFDIR)/init.d/$${f##*/}); done
	for f in $(wildcard runtime/sysv/*); do \
		$(call subst_install,755,$$f,$(DESTDIR)$(SYSCONFDIR)/init.d/$${f##*/}); done

install-runit:
	@mkdir -p $(BUILD)
	for f in $(wildcard runtime/runit/shutdown.d/*); do \
		$(call subst_install,644,$$f,$(DESTDIR)$(SYSCONFDIR)/runit/shutdown.d/$${f##*/}); done
	for d in $(wildcard runtime/runit/sv/*); do \
		$(call subst_install,755,$$d/run,$(DESTDIR)$(SYSCONFDIR)/runit/sv/$${d##*/}/run); done

# Package-manager hooks that checkpoint right after a transaction (pacman, apt, dnf);
# one target each, so that each distribution package takes only its own.
install-pm-hooks: install-pacman-hook install-apt-hook install-dnf-hooks
install-pacman-hook:
	@mkdir -p $(BUILD)
	$(call subst_install,644,runtime/pacman/zz-ephemeral-checkpoint.hook,$(DESTDIR)$(PACMANHOOKDIR)/zz-ephemeral-checkpoint.hook)
install-apt-hook:
	@mkdir -p $(BUILD)
	$(call subst_install,644,runtime/apt/80ephemeral-checkpoint,$(DESTDIR)$(SYSCONFDIR)/apt/apt.conf.d/80ephemeral-checkpoint)
install-dnf-hooks:
	@mkdir -p $(BUILD)
	$(call subst_install,644,runtime/dnf/ephemeral.action,$(DESTDIR)$(SYSCONFDIR)/dnf/plugins/post-transaction-actions.d/ephemeral.action)
	$(call subst_install,644,runtime/dnf/ephemeral.actions,$(DESTDIR)$(SYSCONFDIR)/dnf/libdnf5-plugins/actions.d/ephemeral.actions)

# The source tarball the Arch PKGBUILD and the RPM spec (packaging/) build from.
dist:
	@mkdir -p $(BUILD)
	git archive --format=tar.gz --prefix=ephemeral-$(VERSION)/ -o $(BUILD)/ephemeral-$(VERSION).tar.gz HEAD

clean:
	rm -rf build build-asan

.PHONY: install-pacman-hook install-apt-hook install-dnf-hooks all check check-fast demo vm bench lint install $(INSTALL_PARTS) dist clean unit-bins docs fuzz
-include $(LIB_OBJS:.o=.d) $(SWEEP_OBJS:.o=.d) $(BUILD)/src/cmd/ephemeral.d
