// Command ferretdb-embedded runs FerretDB v1 (the MongoDB wire protocol on SQLite or PostgreSQL)
// for the madsci-events test suite.
//
// It embeds github.com/FerretDB/FerretDB/ferretdb instead of building FerretDB's own command:
// that command's version check panics when it is built from the module cache, because module
// downloads lack the generated build/version/version.txt (FerretDB issue 2982). The embedding
// package skips that check; we fill in the FerretDB module version from the binary's build info
// so that buildInfo/serverStatus report it.
//
// Usage:
//
//	ferretdb-embedded -listen-addr 127.0.0.1:27017 -sqlite-dir ./data [-log-level warn] [-cleanup-if-orphaned]
//	ferretdb-embedded -listen-addr 127.0.0.1:27018 -postgresql-url postgres://user@127.0.0.1:5432/db [-log-level warn]
//	ferretdb-embedded -version
//
// Port 0 picks a free port. Once the listener is bound it prints exactly one line on stdout,
//
//	ferretdb listening on 127.0.0.1:PORT
//
// and serves until SIGTERM or SIGINT, then closes connections and its backend and exits 0.
//
// With -postgresql-url, FerretDB's postgresql handler stores every MongoDB database as a schema of
// that PostgreSQL database; several of these processes on one PostgreSQL database are independent
// front ends of one shared store (see NOTES.md for what FerretDB v1 caches per front end).
// It also stops when its parent process goes away (it is re-parented), so a test runner that
// is killed does not leave it running. With -cleanup-if-orphaned it removes -sqlite-dir when it
// stops and its parent is gone (for temp dirs whose owner died without cleaning up).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/build/version"
	"github.com/FerretDB/FerretDB/ferretdb"
)

const ferretdbModule = "github.com/FerretDB/FerretDB"

func main() {
	addr := flag.String("listen-addr", "127.0.0.1:27017", "TCP `host:port` to listen on; keep it on loopback; port 0 picks a free one")
	dir := flag.String("sqlite-dir", "", "`directory` for the SQLite databases, one file per database (created if missing)")
	pgURL := flag.String("postgresql-url", "", "PostgreSQL connection `URL` (postgres://user@host:port/database): use the postgresql handler instead of SQLite")
	level := flag.String("log-level", "warn", "log `level`: debug, info, warn or error (logs go to stderr)")
	orphanCleanup := flag.Bool("cleanup-if-orphaned", false, "remove -sqlite-dir on exit if the parent process is gone by then")
	showVersion := flag.Bool("version", false, "print the FerretDB module version and exit")
	flag.Parse()

	moduleVersion := ferretdbModuleVersion()
	if *showVersion {
		fmt.Println(moduleVersion)
		return
	}
	if flag.NArg() > 0 {
		fail(2, "unexpected arguments %q (see -help)", flag.Args())
	}
	if (*dir == "") == (*pgURL == "") {
		fail(2, "give exactly one of -sqlite-dir and -postgresql-url")
	}
	if *pgURL != "" {
		if u, err := url.Parse(*pgURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
			fail(2, "bad -postgresql-url %q: want postgres://user@host:port/database", *pgURL)
		}
		if *orphanCleanup {
			fail(2, "-cleanup-if-orphaned applies to -sqlite-dir only (the PostgreSQL server owns its data)")
		}
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		fail(2, "bad -listen-addr %q: %v", *addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		fail(2, "-listen-addr %q is not a loopback address; this test service only listens on loopback", *addr)
	}
	backend := ferretdb.Config{Handler: "postgresql", PostgreSQLURL: *pgURL}
	abs := ""
	if *dir != "" {
		var err error
		abs, err = filepath.Abs(*dir)
		if err == nil {
			err = os.MkdirAll(abs, 0o755)
		}
		if err != nil {
			fail(1, "cannot create -sqlite-dir %q: %v", *dir, err)
		}
		backend = ferretdb.Config{Handler: "sqlite", SQLiteURL: "file:" + abs + "/"}
	}

	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fail(2, "bad -log-level %q (use debug, info, warn or error)", *level)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	// New reports "embedded" as the package and "unknown" as the version; report the module
	// version this binary was really linked with instead.
	version.Get().Version = moduleVersion

	// New binds the listener (a busy port fails here) and opens the backend. The PostgreSQL
	// backend connects lazily: an unreachable server shows at the first command, not here.
	backend.Listener = ferretdb.ListenerConfig{TCP: *addr}
	backend.Logger = logger
	f, err := ferretdb.New(&backend)
	if err != nil {
		fail(1, "cannot start on %s with the %s handler: %v", *addr, backend.Handler, err)
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()

	// When our parent dies, the pipes it read our stdout/stderr from are closed; by default a Go
	// program writing to a broken stdout/stderr is killed by SIGPIPE, which would cut the shutdown
	// (and -cleanup-if-orphaned) short. Receiving SIGPIPE turns those writes into EPIPE errors.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		sig := <-signals
		logger.Info("stopping", slog.String("signal", sig.String()))
		stop()
	}()

	// Stop when the process that started us is gone: we are then re-parented (to init or a
	// subreaper), so our parent pid changes.
	var orphaned atomic.Bool
	parent := os.Getppid()
	if parent > 1 {
		go func() {
			t := time.NewTicker(250 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					if os.Getppid() != parent {
						logger.Warn("parent process is gone; stopping", slog.Int("parent", parent))
						orphaned.Store(true)
						stop()
						return
					}
				}
			}
		}()
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx)
	}()

	// The listener is bound since New returned, so connections are queued from now on;
	// MongoDBURI gives the address actually bound (the real port when it was 0).
	uri := f.MongoDBURI()
	bound := *addr
	if u, err := url.Parse(uri); err == nil && u.Host != "" {
		bound = u.Host
	}
	fmt.Printf("ferretdb listening on %s\n", bound)

	<-done
	if *orphanCleanup && abs != "" && parent > 1 {
		// Also when a signal stopped us and the parent dies with us (the whole process group got
		// SIGTERM or SIGINT): give it a moment to go, then nobody is left to remove the directory.
		for i := 0; i < 10 && !orphaned.Load(); i++ {
			if os.Getppid() != parent {
				orphaned.Store(true)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if orphaned.Load() {
			_ = os.RemoveAll(abs)
		}
	}
}

// ferretdbModuleVersion is the version of the FerretDB module linked into this binary ("v1.24.2").
func ferretdbModuleVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == ferretdbModule {
				if dep.Replace != nil && dep.Replace.Version != "" {
					return dep.Replace.Version
				}
				return dep.Version
			}
		}
	}
	return "unknown"
}

func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ferretdb-embedded: "+format+"\n", args...)
	os.Exit(code)
}
