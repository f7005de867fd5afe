// Command httpd is the HTTP service image of the real local cluster
// (k8sdrv.local/httpd:1). It answers every request with 200 and a line naming
// itself, the method and the path, so a build container can check that a
// service container is reachable. It listens on $PORT (default 8080).
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	name, _ := os.Hostname()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "k8sdrv-httpd %s %s %s\n", name, r.Method, r.URL.Path)
	})
	// Exit at once on SIGTERM, as PID 1 gets no default signal handling.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() { <-sigs; os.Exit(0) }()
	log.Printf("httpd listening on :%s", port)
	log.Fatal(http.ListenAndServe(":"+port, nil))
}
