// Command ceiling is the bare-Fiber ceiling of the benchmark: one handler
// returning a string, with the same Fiber version and no middleware, so the
// app's page numbers can be read against what Fiber itself does on this
// machine under the same load generator.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gofiber/fiber/v2"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18090", "listen address (loopback)")
	flag.Parse()
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/", func(c *fiber.Ctx) error { return c.SendString("ok") })
	if err := app.Listen(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
}
