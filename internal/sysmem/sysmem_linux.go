package sysmem

import "os"

func hostLimits() []Limit { return linuxLimits(os.DirFS("/")) }
