// netcheck is the test workload of the real-node tests (no registry is reachable, so images are built
// here): `netcheck serve :8080 <text>` answers every HTTP request with <text>; `netcheck get <url>`
// fetches a URL, prints the body and exits 0 on a 200, retrying for up to 30 s while the Service's
// rules or the server come up; `netcheck apiserver` does the same for the API server's /version through
// the `kubernetes` Service, as an in-cluster client would (ServiceAccount token and CA, KUBERNETES_SERVICE_*).
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == "apiserver" {
		os.Exit(apiserver())
	}
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: netcheck serve <addr> <text> | netcheck get <url>")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		text := "ok"
		if len(os.Args) > 3 {
			text = os.Args[3]
		}
		err := http.ListenAndServe(os.Args[2], http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, text)
		}))
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	case "get":
		os.Exit(get(os.Args[2]))
	default:
		os.Exit(2)
	}
}

func get(url string) int {
	return retry(&http.Client{Timeout: 3 * time.Second}, url, "")
}

const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// apiserver verifies the server as kubernetes.default.svc (a name its certificate carries) while dialling
// the Service's ClusterIP from the environment, so the check needs no DNS.
func apiserver() int {
	ca, err := os.ReadFile(saDir + "/ca.crt")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	token, err := os.ReadFile(saDir + "/token")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "kubernetes.default.svc"}}
	url := "https://" + os.Getenv("KUBERNETES_SERVICE_HOST") + ":" + os.Getenv("KUBERNETES_SERVICE_PORT") + "/version"
	return retry(&http.Client{Timeout: 3 * time.Second, Transport: tr}, url, string(token))
}

func retry(client *http.Client, url, token string) int {
	deadline := time.Now().Add(30 * time.Second)
	for {
		body, err := fetch(client, url, token)
		if err == nil {
			fmt.Println(body)
			// the kubelet copies this file into the container's status: the test reads it without logs access
			_ = os.WriteFile("/dev/termination-log", []byte(body), 0o644)
			return 0
		}
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "netcheck:", err)
			return 1
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func fetch(client *http.Client, url, token string) (string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", url, res.Status)
	}
	return string(b), nil
}
