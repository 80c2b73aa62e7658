// Package cli is the command-line frame every rarenet binary shares: flags registered into
// groups and printed in one help style, usage errors of one line, documented exit codes, and
// the version a binary was built from.
//
// A command registers its flags group by group; any RegisterFlags(*flag.FlagSet) fits:
//
//	c := cli.New("rarenet replay", "Replays history through the pipeline.", "rarenet replay [flags] FILE...")
//	c.Flags(cli.Input, func(fs *flag.FlagSet) { fs.StringVar(&format, "format", "auto", "input format") })
//	c.Flags(cli.NATS, security.RegisterFlags)
//	if err := c.Parse(args); err != nil {
//		return err // cli.ErrHelp after --help, else a *UsageError
//	}
package cli
