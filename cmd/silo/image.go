package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"text/tabwriter"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/silo-dev/silo/derive"
	"github.com/silo-dev/silo/derive/oci"
)

// ImageCmd groups the image commands.
type ImageCmd struct {
	Pull    ImagePullCmd    `cmd:"" help:"Pull an image into the store (REF, oci-layout:DIR[:TAG], docker-archive:FILE, oci-archive:FILE[:TAG])."`
	Ls      ImageLsCmd      `cmd:"" help:"List pulled images."`
	Rm      ImageRmCmd      `cmd:"" help:"Unpin a pulled image; silo store gc then frees what nothing else uses."`
	Inspect ImageInspectCmd `cmd:"" help:"Print a pulled image's digest, layers and config as JSON."`
}

// platformFlag is the --platform flag the image commands share.
type platformFlag struct {
	Platform string `help:"Image platform OS/ARCH[/VARIANT] (default: the sandboxes' platform, linux on this host's architecture)." placeholder:"OS/ARCH"`
}

func (p platformFlag) parse() (*v1.Platform, error) {
	if p.Platform == "" {
		d := oci.DefaultPlatform()
		return &d, nil
	}
	return oci.ParsePlatform(p.Platform)
}

// ImagePullCmd pulls an image.
type ImagePullCmd struct {
	Ref string `arg:"" help:"Image reference." name:"ref"`
	platformFlag
	Rootfs bool `help:"Also assemble the image's ext4 root filesystem."`
	Dir    bool `help:"Also unpack the image's root filesystem as a directory (namespace backend)."`
	JSON   bool `name:"json" help:"Print the result as JSON."`
}

// Run pulls the image, with progress on a terminal.
func (c *ImagePullCmd) Run(g *Globals) error {
	plat, err := c.parse()
	if err != nil {
		return err
	}
	st, err := g.OpenStore()
	if err != nil {
		return err
	}
	defer st.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	prog := newPullProgress(os.Stderr, g.Quiet)
	opts := derive.RootfsOptions{Platform: plat, Pull: true, OCI: g.pullOptions(prog.progress())}
	opts.OCI.RegisterTags = true
	if c.Rootfs {
		opts.Format |= derive.FormatExt4
	}
	if c.Dir {
		opts.Format |= derive.FormatDir
	}
	if !g.Quiet {
		opts.Notes = os.Stderr
	}
	var res *derive.RootfsResult
	if opts.Format == 0 {
		var p *oci.Pulled
		p, err = oci.Pull(ctx, st, c.Ref, opts.OCI)
		if err == nil {
			res = &derive.RootfsResult{Image: p.Image, ImageEntry: p.Entry, Pulled: p}
		}
	} else {
		res, err = derive.Rootfs(ctx, st, c.Ref, opts)
	}
	prog.close()
	if err != nil {
		return err
	}
	return printPull(c.JSON, g.Quiet, res)
}

// pullOutput is what `silo image pull --json` prints.
type pullOutput struct {
	Ref           string `json:"ref"`
	Digest        string `json:"digest"`
	Platform      string `json:"platform"`
	Entry         string `json:"entry"`
	FetchedLayers int    `json:"fetchedLayers"`
	CachedLayers  int    `json:"cachedLayers"`
	FetchedBytes  int64  `json:"fetchedBytes"`
	// Tags are the registry references a local image was registered
	// under (the tags it was saved with).
	Tags []string `json:"tags,omitempty"`
	Ext4 string   `json:"ext4,omitempty"`
	Dir  string   `json:"dir,omitempty"`
}

func printPull(asJSON, quiet bool, res *derive.RootfsResult) error {
	o := pullOutput{Ref: res.Image.Ref, Digest: res.Image.Digest, Platform: res.Image.Platform, Entry: res.ImageEntry.Path}
	if p := res.Pulled; p != nil {
		o.FetchedLayers, o.CachedLayers, o.FetchedBytes, o.Tags = p.FetchedLayers, p.CachedLayers, p.FetchedBytes, p.Tags
	}
	if res.Ext4 != nil {
		o.Ext4 = res.Ext4.Path
	}
	if res.Dir != nil {
		o.Dir = res.Dir.Path
	}
	if asJSON {
		return printJSON(os.Stdout, o)
	}
	if quiet {
		return nil
	}
	fmt.Printf("%s@%s (%s): %d layers fetched (%s), %d already in the store\n",
		o.Ref, o.Digest, o.Platform, o.FetchedLayers, formatSIBytes(o.FetchedBytes), o.CachedLayers)
	for _, t := range o.Tags {
		fmt.Printf("registered as %s: a tool whose image is %s runs from it\n", t, t)
	}
	for _, p := range []string{o.Ext4, o.Dir} {
		if p != "" {
			fmt.Println(p)
		}
	}
	return nil
}

// ImageLsCmd lists pulled images.
type ImageLsCmd struct {
	JSON bool `name:"json" help:"Print the list as JSON."`
}

// Run prints the pulled images.
func (c *ImageLsCmd) Run(g *Globals) error {
	st, err := g.OpenStore()
	if err != nil {
		return err
	}
	defer st.Close()
	list, err := oci.List(st)
	if err != nil {
		return err
	}
	if c.JSON {
		if list == nil {
			list = []oci.Listed{}
		}
		return printJSON(os.Stdout, list)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REFERENCE\tPLATFORM\tDIGEST\tLAYERS\tSIZE")
	for _, l := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", l.Image.Ref, l.Image.Platform, imageShortDigest(l.Image.Digest), len(l.Image.Layers), formatSIBytes(l.Image.Size()))
	}
	return tw.Flush()
}

// ImageRmCmd unpins an image.
type ImageRmCmd struct {
	Refs []string `arg:"" help:"Image references, as pulled." name:"ref"`
	platformFlag
}

// Run removes the images' roots.
func (c *ImageRmCmd) Run(g *Globals) error {
	plat, err := c.parse()
	if err != nil {
		return err
	}
	st, err := g.OpenStore()
	if err != nil {
		return err
	}
	defer st.Close()
	for _, ref := range c.Refs {
		if err := oci.Remove(st, ref, *plat); err != nil {
			return fmt.Errorf("remove %s: %w (silo image ls lists what is pulled)", ref, err)
		}
		if !g.Quiet {
			fmt.Println("removed", ref)
		}
	}
	return nil
}

// ImageInspectCmd prints an image.
type ImageInspectCmd struct {
	Ref string `arg:"" help:"Image reference, as pulled." name:"ref"`
	platformFlag
}

// Run prints the image entry as JSON.
func (c *ImageInspectCmd) Run(g *Globals) error {
	plat, err := c.parse()
	if err != nil {
		return err
	}
	st, err := g.OpenStore()
	if err != nil {
		return err
	}
	defer st.Close()
	im, e, err := oci.Lookup(st, c.Ref, *plat)
	if err != nil {
		return err
	}
	return printJSON(os.Stdout, struct {
		Entry string `json:"entry"`
		*oci.Image
	}{e.Name, im})
}

// imageShortDigest shortens "sha256:0123…" to its first 12 hex digits.
func imageShortDigest(d string) string {
	for i := 0; i < len(d); i++ {
		if d[i] == ':' {
			d = d[i+1:]
			break
		}
	}
	return d[:min(12, len(d))]
}
