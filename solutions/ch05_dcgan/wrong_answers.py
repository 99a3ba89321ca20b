"""Realistic wrong answers for the grader self-test (tests/test_grader.py): grade_id -> answer cell.

Every answer of this chapter returns an int, a module or nothing, which the generic perturbation
(float outputs * 1.1 + 0.1) cannot make wrong: these are the mistakes students actually make.
"""
WRONG_ANSWERS = {
    # rounds up instead of down
    "ex1-answer": '''def conv2d_output_size(size, kernel, stride, padding, dilation=1):
    return math.ceil((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1
''',
    # a BatchNorm at the generator's output
    "ex2-answer": '''def dcgan_generator(nz, ngf, nc, image_size):
    n = int(math.log2(image_size)) - 2
    layers, channels = [], nz
    for i in range(n):
        width = ngf * 2 ** (n - 1 - i)
        stride, padding = (1, 0) if i == 0 else (2, 1)
        layers += [nn.ConvTranspose2d(channels, width, 4, stride, padding, bias=False),
                   nn.BatchNorm2d(width), nn.ReLU(True)]
        channels = width
    layers += [nn.ConvTranspose2d(channels, nc, 4, 2, 1, bias=False), nn.BatchNorm2d(nc), nn.Tanh()]
    return nn.Sequential(*layers)
''',
    # LeakyReLU with its default slope 0.01
    "ex3-answer": '''def dcgan_discriminator(nc, ndf, image_size):
    n = int(math.log2(image_size)) - 2
    layers, channels = [], nc
    for i in range(n):
        width = ndf * 2**i
        layers.append(nn.Conv2d(channels, width, 4, 2, 1, bias=False))
        if i > 0:
            layers.append(nn.BatchNorm2d(width))
        layers.append(nn.LeakyReLU())
        channels = width
    layers.append(nn.Conv2d(channels, 1, 4, 1, 0, bias=False))
    return nn.Sequential(*layers)
''',
    # BatchNorm scales from N(0, 0.02) instead of N(1, 0.02)
    "ex4-answer": '''def weights_init(m):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 0.0, 0.02)
        nn.init.constant_(m.bias, 0.0)
''',
    # the label as one number
    "ex5-answer": '''class ConditionalGenerator(nn.Module):
    def __init__(self, nz, n_classes, ngf, nc, image_size):
        super().__init__()
        self.net = dcgan_generator(nz + 1, ngf, nc, image_size)

    def forward(self, z, y):
        return self.net(torch.cat([z, y[:, None].float()], dim=1)[:, :, None, None])
''',
    # the log of the score: exp forgotten
    "ex6-answer": '''def inception_score(probs, splits=1):
    scores = []
    for part in torch.tensor_split(probs.double(), splits):
        marginal = part.mean(0, keepdim=True)
        kl = (torch.xlogy(part, part) - torch.xlogy(part, marginal)).sum(1)
        scores.append(float(kl.mean()))
    return sum(scores) / len(scores)
''',
}
