// memhog: allocates and touches memory, 1 MiB at a time, until the kernel's OOM killer ends it (or -max MiB).
// Built static (CGO_ENABLED=0) into an OCI bundle's rootfs by scripts/oci-bundle.sh, for the `oom` event case:
// busybox alone has no portable way to fill memory page by page.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	max := flag.Int("max", 4096, "stop after this many MiB (exit 0 if never killed)")
	flag.Parse()
	var keep [][]byte
	for i := 0; i < *max; i++ {
		b := make([]byte, 1<<20)
		// Touch every page: an untouched allocation costs no memory and triggers nothing.
		for j := 0; j < len(b); j += 4096 {
			b[j] = byte(i)
		}
		keep = append(keep, b)
		if i%16 == 0 {
			fmt.Fprintf(os.Stderr, "memhog: %d MiB\n", i)
		}
		time.Sleep(time.Millisecond)
	}
	fmt.Println("memhog: not killed", len(keep))
}
