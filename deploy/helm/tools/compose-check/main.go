// compose-check: validates a Docker Compose file without a Docker engine, the way
// `docker compose config` does (compose-go, the library Docker Compose itself loads
// files with: the compose-spec JSON Schema, interpolation, normalization and the
// consistency checks such as depends_on naming a service that does not exist), then
// checks the project's own rules for docker-compose.yml:
//   - every image is pinned by an exact tag (not latest, not untagged) or digest;
//   - every service has a healthcheck;
//   - every depends_on waits for service_healthy (or service_completed_successfully);
//   - every published port binds 127.0.0.1.
//
// All profiles are loaded, so optional services are checked too.
//
//	compose-check [-json out.json] docker-compose.yml
//
// Exit 0: valid; 1: problems (each printed); 2: usage. Run by scripts/k8s-check.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

func main() {
	jsonOut := flag.String("json", "", "write the loaded project (as `docker compose config --format json` would) to this file")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: compose-check [-json out.json] docker-compose.yml")
		os.Exit(2)
	}
	file, err := filepath.Abs(flag.Arg(0))
	if err != nil {
		fail(err)
	}
	opts, err := cli.NewProjectOptions([]string{file},
		cli.WithWorkingDirectory(filepath.Dir(file)),
		cli.WithName("sluice"),
		// Only the file's own defaults: no .env file, no variables from the caller.
		cli.WithEnv([]string{}),
		cli.WithProfiles([]string{"*"}),
		cli.WithConsistency(true),
	)
	if err != nil {
		fail(err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		fail(err)
	}

	var problems []string
	names := make([]string, 0, len(project.Services))
	for name := range project.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		problems = append(problems, checkService(name, project.Services[name])...)
	}

	if *jsonOut != "" {
		b, err := project.MarshalJSON()
		if err != nil {
			fail(err)
		}
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			fail(err)
		}
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(os.Stderr, "compose-check: %s: %s\n", filepath.Base(file), p)
		}
		os.Exit(1)
	}
	fmt.Printf("compose-check: %s is valid: %d services (%s); images pinned, healthchecks, depends_on service_healthy, ports on 127.0.0.1\n",
		filepath.Base(file), len(names), strings.Join(names, ", "))
}

func checkService(name string, s types.ServiceConfig) []string {
	var p []string
	if s.Image == "" {
		p = append(p, fmt.Sprintf("service %s: no image (name the image, with an exact tag, even when it is built)", name))
	} else if !pinned(s.Image) {
		p = append(p, fmt.Sprintf("service %s: image %q is not pinned by an exact tag or digest", name, s.Image))
	}
	if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0 {
		p = append(p, fmt.Sprintf("service %s: no healthcheck", name))
	}
	deps := make([]string, 0, len(s.DependsOn))
	for dep := range s.DependsOn {
		deps = append(deps, dep)
	}
	sort.Strings(deps)
	for _, dep := range deps {
		d := s.DependsOn[dep]
		if d.Condition != types.ServiceConditionHealthy && d.Condition != types.ServiceConditionCompletedSuccessfully {
			p = append(p, fmt.Sprintf("service %s: depends_on %s has condition %q, not service_healthy", name, dep, d.Condition))
		}
	}
	for _, port := range s.Ports {
		if port.Published != "" && port.HostIP != "127.0.0.1" {
			p = append(p, fmt.Sprintf("service %s: port %s:%d is published on %q, not 127.0.0.1", name, port.Published, port.Target, port.HostIP))
		}
	}
	return p
}

// pinned: repo:tag with a tag other than latest, or repo@sha256:digest.
func pinned(image string) bool {
	if strings.Contains(image, "@sha256:") {
		return true
	}
	slash := strings.LastIndex(image, "/")
	colon := strings.LastIndex(image, ":")
	if colon <= slash {
		return false
	}
	tag := image[colon+1:]
	return tag != "" && tag != "latest" && !strings.Contains(tag, "$")
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "compose-check: %v\n", err)
	os.Exit(1)
}
