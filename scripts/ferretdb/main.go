// Command ferretdb-embedded runs FerretDB v1 (the MongoDB wire protocol on SQLite) for the
// madsci-events test suite. It embeds github.com/FerretDB/FerretDB/ferretdb instead of building
// FerretDB's own command, whose version check panics when built from the module cache (it wants
// build/version/version.txt, which module downloads lack; FerretDB issue 2982).
//
//	ferretdb-embedded -listen-addr 127.0.0.1:27017 -sqlite-dir ./data [-log-level warn]
//
// It prints "ferretdb listening on <addr>" once the listener is up and serves until SIGTERM or SIGINT.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	addr := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on (keep it on loopback)")
	dir := flag.String("sqlite-dir", "", "directory for the SQLite databases (created if missing)")
	level := flag.String("log-level", "warn", "log level: debug, info, warn or error")
	flag.Parse()

	if *dir == "" {
		fmt.Fprintln(os.Stderr, "ferretdb-embedded: -sqlite-dir is required")
		os.Exit(2)
	}
	abs, err := filepath.Abs(*dir)
	if err == nil {
		err = os.MkdirAll(abs, 0o755)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-embedded: cannot create %s: %v\n", *dir, err)
		os.Exit(1)
	}

	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-embedded: bad -log-level %q\n", *level)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *addr},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/",
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-embedded: %v\n", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	done := make(chan struct{})
	go func() {
		f.Run(ctx)
		close(done)
	}()

	// Stop when the process that started us is gone (a test runner killed with SIGKILL would
	// otherwise leave us running): our parent pid changes when we are re-parented.
	if parent := os.Getppid(); parent > 1 {
		go func() {
			for range time.Tick(500 * time.Millisecond) {
				if os.Getppid() != parent {
					stop()
					return
				}
			}
		}()
	}

	// Announce readiness once the port accepts connections.
	for i := 0; i < 600; i++ {
		conn, err := net.DialTimeout("tcp", *addr, 100*time.Millisecond)
		if err == nil {
			conn.Close()
			fmt.Printf("ferretdb listening on %s\n", *addr)
			break
		}
		select {
		case <-done:
			fmt.Fprintln(os.Stderr, "ferretdb-embedded: stopped before listening")
			os.Exit(1)
		case <-time.After(50 * time.Millisecond):
		}
	}
	<-done
}
