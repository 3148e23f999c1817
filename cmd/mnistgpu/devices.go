package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"mnistgpu/kernels"
	"mnistgpu/kernels/cpu"
	"mnistgpu/kernels/open"
)

// openDevice opens the device --device asks for and prints on stderr why
// no GPU is used when --device auto falls back to the CPU.
func openDevice(want string, gpu, threads int) (kernels.Device, error) {
	dev, note, err := open.Device(want, gpu, threads)
	if note != "" {
		fmt.Fprintln(os.Stderr, note)
	}
	return dev, err
}

func devicesCommand() *cli.Command {
	return &cli.Command{
		Name:  "devices",
		Usage: "list the GPUs and the CUDA libraries loaded, or say exactly why no GPU can be used",
		Description: "Searches LD_LIBRARY_PATH, the loader cache, /usr/local/cuda*/targets/*/lib,\n" +
			"/usr/local/cuda*/lib64 and Python environments' site-packages/nvidia/*/lib for\n" +
			"libcuda.so.1, libcublas.so.13/12, libcudnn.so.9 and libnvrtc.so.13/12.\n" +
			"Always exits 0: a machine without a GPU trains on the CPU.",
		Action: func(c *cli.Context) error {
			fmt.Print(probeCUDA().String())
			fmt.Printf("cpu: %s\n", cpu.New(0).Name())
			return nil
		},
	}
}
