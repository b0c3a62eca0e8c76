// pause is the sandbox ("infra") process of every pod on the local real node: it holds the pod's
// namespaces open and does nothing else. No registry is reachable here, so the project builds its own
// instead of pulling registry.k8s.io/pause. As PID 1 of a shared PID namespace it also reaps orphans.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		os.Stdout.WriteString("mio-pause\n")
		return
	}
	sig := make(chan os.Signal, 8)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sig {
		if s != syscall.SIGCHLD {
			return // the runtime stops the sandbox: exit 0 at once
		}
		reap()
	}
}

// reap collects every exited child without blocking, so orphans re-parented to us never linger as zombies.
func reap() {
	for {
		pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
